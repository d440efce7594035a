package io.percpuref.spring;

import org.springframework.aot.hint.annotation.Reflective;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Runs the annotated method (or every method of the annotated type) under a lease on a managed
 * resource of the application's {@link io.percpuref.registry.RefRegistry}: the resource cannot be
 * released, and so cannot be closed, while the call is in flight; once the resource has been
 * killed, new calls are refused.
 *
 * <pre>{@code
 * @Service
 * class Search {
 *     @Guarded(value = "index", fallbackMethod = "cached")
 *     List<Hit> search(String query) { ... }               // holds a lease on "index" for the call
 *
 *     List<Hit> cached(String query, ResourceUnavailableException e) { ... }
 *
 *     @Guarded(resourceExpression = "#shard")            // the resource named by the argument
 *     List<Hit> searchShard(String shard, String query) { ... }
 * }
 * }</pre>
 *
 * <h2>How long the lease is held</h2>
 * <ul>
 *   <li>Ordinary return types: from before the method runs until it returns or throws.</li>
 *   <li>{@link java.util.concurrent.CompletionStage} and
 *   {@link java.util.concurrent.CompletableFuture}: from before the method runs until the stage that
 *   the method returned completes (normally or exceptionally). The caller gets a new
 *   {@code CompletableFuture} that completes with that stage's outcome, after the lease is closed;
 *   cancelling or completing it (or {@code orTimeout}) does not end the lease while the method's
 *   work runs. Other {@code CompletionStage} subtypes fail at startup.</li>
 *   <li>Reactive types, that is every type Spring's {@code ReactiveAdapterRegistry} adapts when
 *   Reactor is on the class path ({@code Mono}, {@code Flux}, any {@code Publisher}, RxJava,
 *   Kotlin {@code Flow}, ...): the method body (assembly) runs under a lease, released when it
 *   returns; then each subscription takes a lease of its own, released when the subscription
 *   completes, fails or is cancelled. A publisher that is never subscribed holds nothing.
 *   Cancellation ends the lease at once, even if cancelled work (a {@code Mono.fromFuture}, a
 *   blocking call that ignores interrupts) keeps running: such work must hold a lease of its own,
 *   for example by being started through a {@code @Guarded} method that returns its
 *   {@code CompletableFuture}.</li>
 *   <li>Kotlin {@code suspend} functions are not supported: they fail at startup.</li>
 *   <li>Declared {@code Object}: decided per call by the returned value, as above for a
 *   {@code CompletionStage} or a reactive type, otherwise as an ordinary value.</li>
 * </ul>
 *
 * <h2>When the resource is not live</h2>
 * The method is not called. If {@link #fallbackMethod()} names a method, it is called instead, with
 * the same arguments and optionally the {@link io.percpuref.ResourceUnavailableException} as an
 * extra last parameter, and its result (or exception) is the call's. Otherwise the call fails with
 * {@link io.percpuref.ResourceUnavailableException} (unless {@link #refusal()} skips it, as it does
 * by default for {@code void} methods that the container invokes: scheduled tasks, event and
 * message listeners): thrown for ordinary return types, returned as
 * an exceptionally completed stage for {@code CompletionStage}/{@code CompletableFuture}, and as an
 * error signal for reactive types (thrown for a method declared {@code Object}, whose type is not
 * known before it runs). A resource name under which nothing is registered
 * (never registered, or released) is refused the same way, with state {@code RELEASED}.
 *
 * <p>The guard is a Spring AOP advisor: it applies to calls through the bean's proxy (not to calls
 * a bean makes on {@code this}), works with JDK and CGLIB proxies, and does not need AspectJ. Its
 * place among other advisors on the same proxy is {@code percpu-ref.guard.order} (see
 * {@link io.percpuref.spring.guard.GuardedBeanPostProcessor}). Methods declared by {@link Object}, and {@code close()} /
 * {@code destroy()} of {@link AutoCloseable} / {@code DisposableBean} beans, are never guarded by a
 * type-level annotation.
 *
 * <p>Ready for native images: {@code @Guarded} is {@link Reflective @Reflective}, so Spring's AOT
 * processing registers reflection hints for the guarded methods (invoked reflectively by the
 * proxy) and their fallback methods (invoked reflectively by the guard).
 *
 * @see GuardedResource
 */
@Target({ElementType.METHOD, ElementType.TYPE})
@Retention(RetentionPolicy.RUNTIME)
@Inherited
@Documented
@Reflective(GuardedReflectiveProcessor.class)
public @interface Guarded {

    /**
     * The name of the resource to lease, as registered in the {@code RefRegistry}. Placeholders
     * ({@code ${...}}) are resolved. Empty (the default) means the {@link GuardedResource} that
     * declares the method: bare {@code @Guarded} is allowed only inside a {@code @GuardedResource}
     * bean, and fails at startup elsewhere.
     */
    String value() default "";

    /**
     * A SpEL expression over the method's arguments whose value, per call, is the name of the
     * resource to lease, for methods whose resource depends on an argument (a shard, a tenant):
     * {@code @Guarded(resourceExpression = "#shard")}, {@code "'tenant-' + #tenant.id"}. Arguments
     * are {@code #name} (when compiled with {@code -parameters}, as Spring Boot's build plugins do),
     * {@code #p0} / {@code #a0} by position. Parsed once per method, at startup (a parse error fails
     * the startup); evaluated before each call. A call whose expression fails, or yields null or a
     * blank string, fails with an {@code IllegalStateException} naming the method and the
     * expression, before the method runs. Exclusive with {@link #value()}. The name is the
     * {@code resource} key of the guarded-call observation: use it for a bounded set of names.
     */
    String resourceExpression() default "";

    /**
     * The name of a method of the same bean to call instead when the resource is not live. It must
     * take the guarded method's parameters, optionally followed by one parameter to which a
     * {@link io.percpuref.ResourceUnavailableException} can be assigned, and return a type
     * assignable to the guarded method's return type. Checked at startup. Empty (the default): no
     * fallback, the call fails with the exception.
     *
     * <p>On a type-level {@code @Guarded}, the fallback applies to each method that it fits (a
     * fallback per parameter list, overloaded under one name); methods it does not fit are refused
     * with the exception. A type-level fallback that fits none of the type's methods fails at
     * startup. Private and static methods, which no proxy intercepts, are not guarded and not
     * checked.
     */
    String fallbackMethod() default "";

    /**
     * What a refused call does when there is no {@link #fallbackMethod()}. The default,
     * {@link Refusal#AUTO}, skips refused calls of {@code void} methods that the container invokes
     * (a scheduled task, an event or message listener), and fails every other refused call.
     */
    Refusal refusal() default Refusal.AUTO;

    /** What a refused call without a fallback method does; see {@link Guarded#refusal()}. */
    enum Refusal {

        /**
         * {@link #SKIP} for a method that returns {@code void} and is invoked by the container:
         * annotated (also through a meta-annotation) {@code @Scheduled}, {@code @EventListener}
         * (so {@code @TransactionalEventListener}), {@code @JmsListener}, {@code @KafkaListener},
         * {@code @KafkaHandler}, {@code @RabbitListener}, {@code @RabbitHandler},
         * {@code @PulsarListener} or {@code @SqsListener}, or an
         * {@code ApplicationListener.onApplicationEvent}. {@link #FAIL} for every other method.
         */
        AUTO,

        /**
         * The call fails with {@link io.percpuref.ResourceUnavailableException}, in the form its
         * return type takes (thrown, failed stage, error signal). For a scheduled task, Spring then
         * logs an error with the stack trace at every tick.
         */
        FAIL,

        /**
         * The call returns at once without running the method, logged in one line at
         * {@code DEBUG} (logger {@code io.percpuref.spring.guard.GuardInterceptor}) and counted in
         * {@code percpu.refs.rejections} like every refusal. Only for methods that return
         * {@code void}; anything else fails at startup.
         */
        SKIP
    }
}
