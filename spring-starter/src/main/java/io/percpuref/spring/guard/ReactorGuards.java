package io.percpuref.spring.guard;

import io.percpuref.ResourceUnavailableException;
import io.percpuref.registry.Lease;

import org.aopalliance.intercept.MethodInvocation;
import org.jspecify.annotations.Nullable;
import org.reactivestreams.Publisher;
import org.springframework.core.ReactiveAdapter;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The reactive part of the guard, loaded only when a guarded method returns a type that Spring's
 * {@link org.springframework.core.ReactiveAdapterRegistry} adapts (so Reactor stays optional: the
 * registry knows no type without it). Every such type (Reactor's {@code Mono}/{@code Flux}, any
 * {@code Publisher}, RxJava, Kotlin {@code Flow}, ...) goes through a {@code Publisher}, as Spring
 * Framework 7's retry interceptor does.
 *
 * <p>The method body (assembly) has run under a lease of its own, released when it returned. Each
 * subscription to the returned value then takes a lease of its own ({@code defer}), held through
 * {@code using} with eager cleanup: released on complete, error or cancel, before the terminal
 * signal goes downstream. A refusal at either point becomes the fallback's value or an error
 * signal.
 *
 * <p>Cancel ends the subscription's lease at once: Reactor gives no signal for when cancelled
 * upstream work (a {@code Mono.fromFuture}, a blocking callable that ignores interrupts) has
 * actually stopped. Work that may outlive its subscription must hold a lease of its own; see
 * {@link Guarded}.
 */
final class ReactorGuards {

    private ReactorGuards() {
    }

    /** The refusal as an error signal of the adapted type. */
    static Object error(ReactiveAdapter adapter, ResourceUnavailableException refused) {
        return adapter.fromPublisher(adapter.isMultiValue() ? Flux.error(refused) : Mono.error(refused));
    }

    /**
     * {@code source}, adapted so that each subscription holds a lease of its own and, when
     * {@code observe} is set, is one observed guarded call: started at subscribe, stopped with the
     * subscription's lease (error if the subscription ends with an error; success on complete or
     * cancel), or, if the subscription is refused, once the refusal's answer is assembled.
     */
    static Object leasePerSubscription(GuardInterceptor guard, MethodInvocation invocation, GuardedMethod guarded,
                                       String name, ReactiveAdapter adapter, Object source, boolean observe) {
        Publisher<Object> publisher = adapter.toPublisher(source);
        if (adapter.isMultiValue()) {
            Flux<Object> flux = Flux.from(publisher);
            return adapter.fromPublisher(Flux.defer(() -> {
                GuardObserver.Call call = observe ? guard.startObservation(name, invocation) : null;
                Lease<?> lease;
                try {
                    lease = guard.acquire(name);
                }
                catch (ResourceUnavailableException refused) {
                    return refusedPublisher(guard, invocation, guarded, adapter, refused, call);
                }
                if (call == null) {
                    return Flux.using(() -> lease, l -> flux, Lease::close);
                }
                return Flux.using(() -> new SubscriptionLease(lease, call), l -> flux.doOnError(l::failed),
                        SubscriptionLease::close);
            }));
        }
        Mono<Object> mono = Mono.from(publisher);
        return adapter.fromPublisher(Mono.defer(() -> {
            GuardObserver.Call call = observe ? guard.startObservation(name, invocation) : null;
            Lease<?> lease;
            try {
                lease = guard.acquire(name);
            }
            catch (ResourceUnavailableException refused) {
                return Mono.from(refusedPublisher(guard, invocation, guarded, adapter, refused, call));
            }
            if (call == null) {
                return Mono.using(() -> lease, l -> mono, Lease::close);
            }
            return Mono.using(() -> new SubscriptionLease(lease, call), l -> mono.doOnError(l::failed),
                    SubscriptionLease::close);
        }));
    }

    /**
     * The fallback's value as a publisher (or its failure), or the refusal as an error signal;
     * observed by {@code call}, if not null, as a refused call.
     */
    private static Publisher<Object> refusedPublisher(GuardInterceptor guard, MethodInvocation invocation,
                                                      GuardedMethod guarded, ReactiveAdapter adapter,
                                                      ResourceUnavailableException refused,
                                                      GuardObserver.@Nullable Call call) {
        if (call == null) {
            return refusedPublisher(guard, invocation, guarded, adapter, refused);
        }
        call.refused(refused);
        Throwable failure = null;
        try (GuardObserver.Scope scope = call.openScope()) {
            return refusedPublisher(guard, invocation, guarded, adapter, refused);
        }
        catch (RuntimeException | Error e) {
            failure = e;
            throw e;
        }
        finally {
            call.stop(failure);
        }
    }

    /**
     * The lease of one observed subscription: {@link #close()} (Reactor's eager cleanup, on
     * complete, error or cancel) ends the lease, then the observation, with the error that
     * {@link #failed} saw, if any. Reactor signals one subscription serially, so the plain field
     * is written before it is read, on the signal's thread.
     */
    private static final class SubscriptionLease {

        private final Lease<?> lease;
        private final GuardObserver.Call call;
        private @Nullable Throwable failure;

        SubscriptionLease(Lease<?> lease, GuardObserver.Call call) {
            this.lease = lease;
            this.call = call;
        }

        void failed(Throwable failure) {
            this.failure = failure;
        }

        void close() {
            this.lease.close();
            this.call.stop(this.failure);
        }
    }

    /** The fallback's value as a publisher (or its failure), or the refusal as an error signal. */
    private static Publisher<Object> refusedPublisher(GuardInterceptor guard, MethodInvocation invocation,
                                                      GuardedMethod guarded, ReactiveAdapter adapter,
                                                      ResourceUnavailableException refused) {
        if (!guarded.hasFallback()) {
            return Mono.error(refused);
        }
        try {
            Object outcome = guarded.callFallback(invocation.getThis(), invocation.getArguments(), refused);
            return outcome != null ? adapter.toPublisher(outcome) : Mono.empty();
        }
        catch (Throwable t) {
            return Mono.error(t);
        }
    }
}
