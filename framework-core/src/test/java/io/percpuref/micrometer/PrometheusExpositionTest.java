package io.percpuref.micrometer;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.percpuref.registry.LeakDetection;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefRegistry;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/** The series names users put in dashboards and alerts, as a real Prometheus scrape shows them. */
class PrometheusExpositionTest {

    @Test
    void scrapeShowsEveryMeterUnderItsPrometheusName() {
        RefRegistry registry = RefRegistry.builder()
                .callbackExecutor(Runnable::run)
                .leakDetection(LeakDetection.DISABLED)
                .build();
        PrometheusMeterRegistry prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        new PercpuRefMetrics(registry, PercpuRefMetrics.Options.defaults().perRefMetrics(true)).bindTo(prometheus);
        ManagedResource<Object> live = registry.register("aio-ctx-7", new Object(), r -> { });
        live.acquire();
        ManagedResource<Object> dying = registry.register("aio-ctx-8", new Object(), r -> { });
        dying.acquire();
        dying.kill();
        dying.tryAcquire();
        registry.register("aio-ctx-9", new Object(), r -> { }).kill();

        String scrape = prometheus.scrape();

        assertThat(scrape.lines()).contains(
                "percpu_refs{registry=\"default\",state=\"live\"} 1.0",
                "percpu_refs{registry=\"default\",state=\"dying\"} 1.0",
                "percpu_refs_stuck{registry=\"default\"} 0.0",
                "percpu_refs_kills_total{registry=\"default\"} 2.0",
                "percpu_refs_releases_total{registry=\"default\"} 1.0",
                "percpu_refs_rejections_total{registry=\"default\"} 1.0",
                "percpu_refs_leaks_total{registry=\"default\"} 0.0",
                "percpu_refs_release_failures_total{registry=\"default\"} 0.0",
                "percpu_refs_confirm_latency_seconds_count{registry=\"default\"} 2",
                "percpu_refs_drain_latency_seconds_count{registry=\"default\"} 1",
                "percpu_refs_in_flight{ref=\"aio-ctx-7\",registry=\"default\"} 1.0",
                "percpu_refs_in_flight{ref=\"aio-ctx-8\",registry=\"default\"} 1.0");
        assertThat(scrape).contains("# HELP percpu_refs_kills_total ", "# TYPE percpu_refs_kills_total counter",
                "# TYPE percpu_refs gauge", "percpu_refs_confirm_latency_seconds_sum",
                "percpu_refs_drain_latency_seconds_max");
        assertThat(scrape).doesNotContain("aio-ctx-9");
        registry.shutdown(Duration.ZERO);
    }
}
