package io.percpuref.spring;

import io.percpuref.ResourceUnavailableException;
import io.percpuref.registry.Lease;

import org.aopalliance.intercept.MethodInvocation;
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

    /** {@code source}, adapted so that each subscription holds a lease of its own. */
    static Object leasePerSubscription(GuardInterceptor guard, MethodInvocation invocation, GuardedMethod guarded,
                                       ReactiveAdapter adapter, Object source) {
        Publisher<Object> publisher = adapter.toPublisher(source);
        if (adapter.isMultiValue()) {
            Flux<Object> flux = Flux.from(publisher);
            return adapter.fromPublisher(Flux.defer(() -> {
                Lease<?> lease;
                try {
                    lease = guard.acquire(guarded);
                }
                catch (ResourceUnavailableException refused) {
                    return refusedPublisher(guard, invocation, guarded, adapter, refused);
                }
                return Flux.using(() -> lease, l -> flux, Lease::close);
            }));
        }
        Mono<Object> mono = Mono.from(publisher);
        return adapter.fromPublisher(Mono.defer(() -> {
            Lease<?> lease;
            try {
                lease = guard.acquire(guarded);
            }
            catch (ResourceUnavailableException refused) {
                return Mono.from(refusedPublisher(guard, invocation, guarded, adapter, refused));
            }
            return Mono.using(() -> lease, l -> mono, Lease::close);
        }));
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
