package io.percpuref.spring;

import io.percpuref.ResourceUnavailableException;
import io.percpuref.registry.Lease;

import org.aopalliance.intercept.MethodInvocation;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The Reactor part of the guard, loaded only when a guarded method returns {@code Mono} or
 * {@code Flux} (so Reactor stays optional).
 *
 * <p>The method body (assembly) runs under a lease, released as soon as it returns. Each
 * subscription to the returned publisher then takes a lease of its own ({@code defer}), held through
 * {@code using} with eager cleanup: released on complete, error or cancel, before the terminal
 * signal goes downstream. A refusal at either point becomes the fallback's publisher or an error
 * signal.
 */
final class ReactorGuards {

    private ReactorGuards() {
    }

    static boolean isMono(Class<?> returnType) {
        return returnType == Mono.class;
    }

    static boolean isFlux(Class<?> returnType) {
        return returnType == Flux.class;
    }

    static Object error(GuardedMethod.Kind kind, ResourceUnavailableException refused) {
        return kind == GuardedMethod.Kind.MONO ? Mono.error(refused) : Flux.error(refused);
    }

    @SuppressWarnings("unchecked")
    static Object invoke(GuardInterceptor guard, MethodInvocation invocation, GuardedMethod guarded) throws Throwable {
        Lease<?> assembly;
        try {
            assembly = guard.acquire(guarded);
        }
        catch (ResourceUnavailableException refused) {
            return guard.refuse(invocation, guarded, refused);
        }
        Object source;
        try {
            source = invocation.proceed();
        }
        finally {
            assembly.close();
        }
        if (source == null) {
            return null;
        }
        if (guarded.kind() == GuardedMethod.Kind.MONO) {
            Mono<Object> mono = (Mono<Object>) source;
            return Mono.defer(() -> {
                Lease<?> lease;
                try {
                    lease = guard.acquire(guarded);
                }
                catch (ResourceUnavailableException refused) {
                    return Mono.from(refusedPublisher(guard, invocation, guarded, refused));
                }
                return Mono.using(() -> lease, l -> mono, Lease::close);
            });
        }
        Flux<Object> flux = (Flux<Object>) source;
        return Flux.defer(() -> {
            Lease<?> lease;
            try {
                lease = guard.acquire(guarded);
            }
            catch (ResourceUnavailableException refused) {
                return refusedPublisher(guard, invocation, guarded, refused);
            }
            return Flux.using(() -> lease, l -> flux, Lease::close);
        });
    }

    /** The fallback's publisher (or its failure), or the refusal as an error signal. */
    @SuppressWarnings("unchecked")
    private static Publisher<Object> refusedPublisher(GuardInterceptor guard, MethodInvocation invocation,
                                                 GuardedMethod guarded, ResourceUnavailableException refused) {
        try {
            Object outcome = guard.refuse(invocation, guarded, refused);
            return outcome != null ? (Publisher<Object>) outcome : Mono.empty();
        }
        catch (Throwable t) {
            return Mono.error(t);
        }
    }
}
