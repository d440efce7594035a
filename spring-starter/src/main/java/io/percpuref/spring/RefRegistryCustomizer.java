package io.percpuref.spring;

import io.percpuref.registry.RefRegistry;

/**
 * Customizes the auto-configured {@link RefRegistry} without replacing it: every bean of this type
 * is called, in {@link org.springframework.core.Ordered} / {@code @Order} order, with the registry's
 * builder after the {@code percpu-ref.*} properties have been applied to it and before it is built.
 * So a customizer sees (and may override) what the properties configured (name, leak detection
 * and sampling interval, leak reclaiming, stuck threshold, callback executor), and sets what
 * properties cannot express: an error reporter, an executor that is not a bean.
 *
 * <pre>{@code
 * @Bean
 * RefRegistryCustomizer refFailuresToTheLog() {
 *     return builder -> builder.errorReporter(failure -> log.error("percpu-ref failure", failure));
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
