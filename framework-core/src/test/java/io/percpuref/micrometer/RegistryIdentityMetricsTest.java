package io.percpuref.micrometer;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.percpuref.registry.LeakDetection;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Several registries bound to one meter registry: each meter carries {@code registry}=name. */
class RegistryIdentityMetricsTest {

    private final RefRegistry a = registry("a");
    private final RefRegistry b = registry("b");
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();

    private static RefRegistry registry(String name) {
        return RefRegistry.builder().name(name).callbackExecutor(Runnable::run)
                .leakDetection(LeakDetection.DISABLED).build();
    }

    private static PercpuRefMetrics.Options perRef() {
        return PercpuRefMetrics.Options.defaults().perRefMetrics(true);
    }

    @AfterEach
    void shutDown() {
        a.shutdown(Duration.ZERO);
        b.shutdown(Duration.ZERO);
    }

    @Test
    void aRegistryIsNamedDefaultUnlessConfigured() {
        assertThat(RefRegistry.builder().build().name()).isEqualTo("default");
        assertThat(a.name()).isEqualTo("a");
    }

    @Test
    void everyMeterIsTaggedWithTheRegistryName() {
        new PercpuRefMetrics(a, perRef()).bindTo(meters);
        a.register("x", new Object(), r -> { });

        assertThat(meters.getMeters()).isNotEmpty().extracting(Meter::getId)
                .allSatisfy(id -> assertThat(id.getTag("registry")).isEqualTo("a"));
    }

    @Test
    void twoRegistriesOnOneMeterRegistryEachReportTheirOwnValues() {
        new PercpuRefMetrics(a).bindTo(meters);
        new PercpuRefMetrics(b).bindTo(meters);
        a.register("x", new Object(), r -> { });
        a.register("y", new Object(), r -> { });
        b.register("x", new Object(), r -> { }).kill();

        assertThat(meters.get("percpu.refs").tags("registry", "a", "state", "live").gauge().value()).isEqualTo(2.0);
        assertThat(meters.get("percpu.refs").tags("registry", "b", "state", "live").gauge().value()).isZero();
        assertThat(meters.get("percpu.refs.kills").tag("registry", "b").functionCounter().count()).isEqualTo(1.0);
        assertThat(meters.get("percpu.refs.drain.latency").tag("registry", "b").timer().count()).isEqualTo(1);
        assertThat(meters.get("percpu.refs.drain.latency").tag("registry", "a").timer().count()).isZero();
    }

    @Test
    void perRefGaugesOfEqualNamesInTwoRegistriesDoNotCrossTalk() {
        new PercpuRefMetrics(a, perRef()).bindTo(meters);
        new PercpuRefMetrics(b, perRef()).bindTo(meters);
        ManagedResource<Object> ax = a.register("x", new Object(), r -> { });
        ManagedResource<Object> bx = b.register("x", new Object(), r -> { });
        bx.acquire();

        ax.kill(); // released at once: a's "x" series goes, b's stays

        assertThat(meters.find("percpu.refs.in.flight").tags("registry", "a", "ref", "x").gauge()).isNull();
        assertThat(meters.get("percpu.refs.in.flight").tags("registry", "b", "ref", "x").gauge().value())
                .isEqualTo(1.0);
    }

    @Test
    void twoRegistriesShareAPrometheusRegistry() {
        PrometheusMeterRegistry prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        new PercpuRefMetrics(a, perRef()).bindTo(prometheus);
        new PercpuRefMetrics(b, perRef()).bindTo(prometheus);
        a.register("x", new Object(), r -> { });
        a.register("y", new Object(), r -> { });
        b.register("x", new Object(), r -> { });

        assertThat(prometheus.scrape().lines()).contains(
                "percpu_refs{registry=\"a\",state=\"live\"} 2.0",
                "percpu_refs{registry=\"b\",state=\"live\"} 1.0",
                "percpu_refs_in_flight{ref=\"x\",registry=\"a\"} 0.0",
                "percpu_refs_in_flight{ref=\"x\",registry=\"b\"} 0.0");
    }

    @Test
    void twoRegistriesOfTheSameNameOnOneMeterRegistryAreRejected() {
        new PercpuRefMetrics(a).bindTo(meters);
        RefRegistry sameName = registry("a");
        PercpuRefMetrics second = new PercpuRefMetrics(sameName);

        assertThatThrownBy(() -> second.bindTo(meters))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("'a'").hasMessageContaining("name(");
    }

    @Test
    void aRegistryTagInTheOptionsIsRejected() {
        assertThatThrownBy(() -> new PercpuRefMetrics(a, PercpuRefMetrics.Options.defaults()
                .tags(Tags.of("registry", "aio"))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("RefRegistry.builder().name");
    }

    @Test
    void closingTheBinderRemovesItsMetersAndStopsListening() {
        new PercpuRefMetrics(b).bindTo(meters);
        PercpuRefMetrics metrics = new PercpuRefMetrics(a, perRef());
        metrics.bindTo(meters);
        a.register("x", new Object(), r -> { });

        metrics.close();
        a.register("y", new Object(), r -> { }); // would add a per-ref gauge if the binder still listened

        assertThat(meters.getMeters()).extracting(m -> m.getId().getTag("registry")).containsOnly("b").isNotEmpty();
    }
}
