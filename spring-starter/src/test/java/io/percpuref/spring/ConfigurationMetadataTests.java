package io.percpuref.spring;

import io.percpuref.spring.autoconfigure.PercpuRefActuatorAutoConfiguration;
import io.percpuref.spring.autoconfigure.PercpuRefAutoConfiguration;

import org.junit.jupiter.api.Test;
import org.springframework.core.io.ClassPathResource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The configuration metadata the processor generates: every property of SPEC §6, described, with its default. */
class ConfigurationMetadataTests {

    @Test
    void everyPropertyIsDescribedWithItsDefault() throws IOException {
        String json = new ClassPathResource("META-INF/spring-configuration-metadata.json")
                .getContentAsString(StandardCharsets.UTF_8);
        Map<String, String> defaults = Map.ofEntries(
                Map.entry("percpu-ref.enabled", "true"),
                Map.entry("percpu-ref.shutdown.timeout", "\"30s\""),
                Map.entry("percpu-ref.shutdown.phase", "2147482111"),
                Map.entry("percpu-ref.leak-detection", "\"simple\""),
                Map.entry("percpu-ref.stuck-threshold", "\"60s\""),
                Map.entry("percpu-ref.metrics.per-ref", "false"),
                Map.entry("percpu-ref.guard.order", "0"),
                Map.entry("percpu-ref.guard.unknown-resource", "\"fail\""),
                Map.entry("percpu-ref.guard.observations.enabled", "true"),
                Map.entry("percpu-ref.health.stuck-status", "\"UP\""),
                Map.entry("percpu-ref.web.retry-after", "\"1s\""),
                Map.entry("percpu-ref.name", "\"default\""),
                Map.entry("percpu-ref.leak-sampling-interval", "128"),
                Map.entry("percpu-ref.reclaim-leaks", "false"),
                Map.entry("management.health.percpurefs.enabled", "true"));
        for (String name : defaults.keySet()) {
            int at = json.indexOf("\"name\": \"" + name + "\"");
            assertThat(at).as(name).isNotNegative();
            String entry = json.substring(at, json.indexOf('}', at));
            assertThat(entry).as(name).contains("\"description\": \"")
                    .contains("\"defaultValue\": " + defaults.get(name));
        }
    }

    @Test
    void theCallbackExecutorIsDescribedAndCompletedWithExecutorBeans() throws IOException {
        String json = new ClassPathResource("META-INF/spring-configuration-metadata.json")
                .getContentAsString(StandardCharsets.UTF_8);
        int at = json.indexOf("\"name\": \"percpu-ref.callback-executor\"");
        assertThat(at).isNotNegative();
        assertThat(json.substring(at, json.indexOf('}', at))).contains("\"description\": \"Name of the")
                .contains("percpuRefCallbackExecutor");
        int hint = json.indexOf("\"name\": \"percpu-ref.callback-executor\"", json.indexOf("\"hints\""));
        assertThat(hint).isPositive();
        assertThat(json.substring(hint, json.indexOf(']', hint))).contains("\"spring-bean-reference\"")
                .contains("\"target\": \"java.util.concurrent.Executor\"");
    }

    @Test
    void autoConfigurationsAreListed() throws IOException {
        String imports = new ClassPathResource(
                "META-INF/spring/org.springframework.boot.autoconfigure.AutoConfiguration.imports")
                .getContentAsString(StandardCharsets.UTF_8);
        assertThat(imports.lines()).containsExactly(PercpuRefAutoConfiguration.class.getName(),
                PercpuRefActuatorAutoConfiguration.class.getName());
    }
}
