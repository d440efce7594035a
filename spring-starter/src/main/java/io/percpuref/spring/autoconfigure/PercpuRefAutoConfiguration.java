package io.percpuref.spring.autoconfigure;

import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Import;

/**
 * Auto-configuration of percpu-ref: the {@link io.percpuref.registry.RefRegistry}, its Micrometer
 * meters (when Micrometer is present), {@link Guarded @Guarded} methods,
 * {@link GuardedResource @GuardedResource} beans, the drain at shutdown
 * ({@link PercpuRefLifecycle}), a Micrometer Observation per guarded call (when an
 * {@code ObservationRegistry} is present) and, in web applications, the 503 exception handler. Every bean
 * backs off when the application defines its own; {@code percpu-ref.enabled=false} turns it all
 * off. The actuator parts are in {@link PercpuRefActuatorAutoConfiguration}.
 */
@AutoConfiguration
@ConditionalOnBooleanProperty(name = "percpu-ref.enabled", matchIfMissing = true)
@EnableConfigurationProperties(PercpuRefProperties.class)
@Import({PercpuRefConfigurations.RegistryConfiguration.class, PercpuRefConfigurations.MetricsConfiguration.class,
        PercpuRefConfigurations.GuardConfiguration.class, PercpuRefConfigurations.ObservationConfiguration.class,
        PercpuRefConfigurations.LifecycleConfiguration.class,
        PercpuRefConfigurations.WebConfiguration.class})
public final class PercpuRefAutoConfiguration {

    /**
     * Name of the {@link java.util.concurrent.Executor} bean (a {@code TaskExecutor}, for example)
     * that the auto-configured registry runs its callbacks on when {@code percpu-ref.callback-executor}
     * names none: release actions, confirm callbacks, leak handling.
     */
    public static final String CALLBACK_EXECUTOR_BEAN_NAME = "percpuRefCallbackExecutor";
}
