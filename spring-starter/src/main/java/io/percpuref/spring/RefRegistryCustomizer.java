package io.percpuref.spring;

import io.percpuref.registry.RefRegistry;

/**
 * Customizes the auto-configured {@link RefRegistry} without replacing it: every bean of this type
 * is called, in {@link org.springframework.core.Ordered} / {@code @Order} order, with the registry's
 * builder after the {@code percpu-ref.*} properties have been applied to it and before it is built.
 * So a customizer sees (and may override) the configured leak detection and stuck threshold, and
 * sets what properties cannot express: a callback executor, an error reporter, the registry's name,
 * leak reclaiming, the leak sampling interval.
 *
 * <pre>{@code
 * @Bean
 * RefRegistryCustomizer refCallbacksOnOurPool(ExecutorService refCallbacks) {
 *     return builder -> builder.callbackExecutor(refCallbacks).reclaimLeaks(true);
 * }
 * }</pre>
 *
 * Not called when the application defines its own {@code RefRegistry} bean (the auto-configured one
 * then backs off).
 */
@FunctionalInterface
public interface RefRegistryCustomizer {

    /**
     * Customizes {@code builder}, on which the {@code percpu-ref.*} properties and the customizers
     * of higher precedence have been applied.
     */
    void customize(RefRegistry.Builder builder);
}
