package io.percpuref.examples.spring;

import io.percpuref.registry.RefInfo;
import io.percpuref.registry.RefListener;
import io.percpuref.spring.RefRegistryCustomizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Customizes the starter's registry without replacing it (so the {@code percpu-ref.*} properties
 * still apply): a {@link RefRegistryCustomizer} that hands every registry failure (a release action
 * or listener that threw, an over-put) to the application's log, and a {@link RefListener} bean,
 * which the starter adds to the registry, that logs kills and stuck resources.
 */
@Configuration(proxyBeanMethods = false)
class RefRegistrySetup {

    private static final Logger log = LoggerFactory.getLogger(RefRegistrySetup.class);

    @Bean
    RefRegistryCustomizer demoRegistryFailuresToTheLog() {
        return builder -> builder.errorReporter(failure -> log.error("percpu-ref failure: {}", failure.getMessage(), failure));
    }

    @Bean
    RefListener demoRefAudit() {
        return new RefListener() {
            @Override
            public void onKilled(RefInfo info) {
                log.info("'{}' killed with {} lease(s) in flight", info.name(), info.inFlight());
            }

            @Override
            public void onStuck(RefInfo info) {
                log.warn("'{}' is stuck: dying for {}", info.name(), info.dyingFor());
            }
        };
    }
}
