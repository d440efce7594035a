package io.percpuref.spring;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Makes a singleton bean a managed resource of the application's
 * {@link io.percpuref.registry.RefRegistry}, registered under {@link #name()} when the bean has been
 * created. Put it on the bean class, or on the {@code @Bean} method that creates the bean.
 *
 * <pre>{@code
 * @Component
 * @GuardedResource(name = "index")
 * class SearchIndex implements AutoCloseable {
 *     @Guarded                        // leases "index" for the call
 *     List<Hit> search(String query) { ... }
 *
 *     @Override
 *     public void close() { ... }     // runs once, when "index" is released
 * }
 * }</pre>
 *
 * <h2>Lifecycle</h2>
 * The bean's destruction callbacks ({@code @PreDestroy} methods, {@code DisposableBean.destroy()},
 * {@code AutoCloseable.close()}, an inferred or declared destroy method) become the resource's
 * release action: they run exactly once, when the resource has been killed and its last lease
 * closed, never while a guarded call is in flight. Spring does not call them a second time, nor
 * earlier: at context shutdown the starter's lifecycle kills the resource and waits up to
 * {@code percpu-ref.shutdown.timeout} for the drain; if the resource is killed earlier (through the
 * {@code percpurefs} actuator endpoint or {@code ManagedResource.kill()}), it is closed as soon as
 * it has drained, while the application keeps running. A resource still draining when the context
 * closes is closed when its last lease closes, after the context is gone.
 *
 * <p>Only singleton beans can be guarded resources (the name is unique in the registry).
 *
 * @see Guarded
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@Documented
public @interface GuardedResource {

    /**
     * The name to register the bean under: unique among the registry's live and dying resources,
     * and the name {@link Guarded#value()} refers to. Placeholders ({@code ${...}}) are resolved.
     */
    String name();
}
