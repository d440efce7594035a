package io.percpuref.spring.autoconfigure;

import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.context.annotation.Import;

/**
 * Auto-configuration of the {@code percpurefs} actuator endpoint ({@link PercpuRefsEndpoint}, when
 * Spring Boot Actuator is present and the endpoint is available: accessible and exposed) and of the
 * {@code percpuRefs} health indicator ({@link PercpuRefsHealthIndicator}, when Spring Boot Health is
 * present, unless {@code management.health.percpurefs.enabled=false}).
 */
@AutoConfiguration(after = PercpuRefAutoConfiguration.class,
        beforeName = "org.springframework.boot.health.autoconfigure.contributor.HealthContributorAutoConfiguration")
@ConditionalOnBooleanProperty(name = "percpu-ref.enabled", matchIfMissing = true)
@Import({PercpuRefConfigurations.EndpointConfiguration.class, PercpuRefConfigurations.HealthConfiguration.class})
public final class PercpuRefActuatorAutoConfiguration {
}
