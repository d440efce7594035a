package io.percpuref.micrometer;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.percpuref.registry.LeakDetection;
import io.percpuref.registry.Lease;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

class PercpuRefMetricsTest {

    /** Direct executor: confirm and release happen inside kill()/close(), so meters can be read at once. */
    private final RefRegistry registry = RefRegistry.builder()
            .callbackExecutor(Runnable::run)
            .leakDetection(LeakDetection.DISABLED)
            .build();
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();

    @AfterEach
    void shutDown() {
        registry.shutdown(Duration.ZERO);
    }

    private void bind() {
        new PercpuRefMetrics(registry).bindTo(meters);
    }

    private void bindWithPerRefGauges() {
        new PercpuRefMetrics(registry, PercpuRefMetrics.Options.defaults().perRefMetrics(true)).bindTo(meters);
    }

    private ManagedResource<Object> register(String name) {
        return registry.register(name, new Object(), r -> { });
    }

    @Test
    void refsGaugeCountsLiveRefs() {
        bind();
        register("a");
        register("b");

        assertThat(meters.get("percpu.refs").tag("state", "live").gauge().value()).isEqualTo(2.0);
    }

    @Test
    void refsGaugeCountsDyingRefs() {
        bind();
        ManagedResource<Object> h = register("a");
        h.acquire();
        h.kill();

        assertThat(meters.get("percpu.refs").tag("state", "dying").gauge().value()).isEqualTo(1.0);
        assertThat(meters.get("percpu.refs").tag("state", "live").gauge().value()).isZero();
    }

    @Test
    void stuckGaugeCountsStuckRefs() {
        RefRegistry fast = RefRegistry.builder().stuckThreshold(Duration.ofMillis(20)).build();
        new PercpuRefMetrics(fast).bindTo(meters);
        ManagedResource<Object> h = fast.register("a", new Object(), r -> { });
        h.acquire();

        h.kill();

        await().until(() -> meters.get("percpu.refs.stuck").gauge().value() == 1.0);
        fast.shutdown(Duration.ZERO);
    }

    @Test
    void killsCounterCountsKills() {
        bind();
        register("a").kill();
        register("b").kill();

        assertThat(meters.get("percpu.refs.kills").functionCounter().count()).isEqualTo(2.0);
    }

    @Test
    void releasesCounterCountsReleases() {
        bind();
        register("a").kill();

        assertThat(meters.get("percpu.refs.releases").functionCounter().count()).isEqualTo(1.0);
    }

    @Test
    void rejectionsCounterCountsRefusedAcquires() {
        bind();
        ManagedResource<Object> h = register("a");
        h.acquire();
        h.kill();

        h.tryAcquire();

        assertThat(meters.get("percpu.refs.rejections").functionCounter().count()).isEqualTo(1.0);
    }

    @Test
    void leaksCounterCountsLeakedLeases() {
        RefRegistry paranoid = RefRegistry.builder().leakDetection(LeakDetection.PARANOID).build();
        new PercpuRefMetrics(paranoid).bindTo(meters);
        ManagedResource<Object> h = paranoid.register("a", new Object(), r -> { });

        leakALease(h);

        await().until(() -> {
            System.gc();
            return meters.get("percpu.refs.leaks").functionCounter().count() == 1.0;
        });
        paranoid.shutdown(Duration.ZERO);
    }

    private static void leakALease(ManagedResource<?> h) {
        h.acquire();
    }

    @Test
    void confirmLatencyTimerRecordsEachConfirm() {
        bind();
        register("a").kill();
        register("b").kill();

        assertThat(meters.get("percpu.refs.confirm.latency").timer().count()).isEqualTo(2);
    }

    @Test
    void drainLatencyTimerRecordsKillToRelease() {
        bind();
        ManagedResource<Object> h = register("a");
        Lease<Object> lease = h.acquire();
        h.kill();
        await().until(() -> h.info().dyingFor().toMillis() >= 20);

        lease.close();

        assertThat(meters.get("percpu.refs.drain.latency").timer().count()).isEqualTo(1);
        assertThat(meters.get("percpu.refs.drain.latency").timer().totalTime(TimeUnit.MILLISECONDS))
                .isGreaterThanOrEqualTo(20.0);
    }

    @Test
    void perRefGaugesAreAbsentByDefault() {
        bind();
        register("a").acquire();

        assertThat(meters.find("percpu.refs.in.flight").meters()).isEmpty();
    }

    @Test
    void perRefGaugeReportsInFlightLeases() {
        bindWithPerRefGauges();
        ManagedResource<Object> h = register("aio-ctx-7");
        h.acquire();
        h.acquire();

        assertThat(meters.get("percpu.refs.in.flight").tag("ref", "aio-ctx-7").gauge().value()).isEqualTo(2.0);
    }

    @Test
    void perRefGaugeCoversRefsRegisteredBeforeBinding() {
        register("early").acquire();

        bindWithPerRefGauges();

        assertThat(meters.get("percpu.refs.in.flight").tag("ref", "early").gauge().value()).isEqualTo(1.0);
    }

    @Test
    void perRefGaugeIsRemovedWhenTheRefIsReleased() {
        bindWithPerRefGauges();
        ManagedResource<Object> h = register("gone");
        assertThat(meters.find("percpu.refs.in.flight").tag("ref", "gone").gauge()).isNotNull();

        h.kill();

        assertThat(meters.find("percpu.refs.in.flight").meters()).isEmpty();
    }

    @Test
    void perRefGaugeFollowsANewRefOfTheSameName() {
        bindWithPerRefGauges();
        register("reused").kill();

        register("reused").acquire();

        assertThat(meters.get("percpu.refs.in.flight").tag("ref", "reused").gauge().value()).isEqualTo(1.0);
    }

    @Test
    void perRefGaugeKeepsReportingWhileTheRefIsDying() {
        bindWithPerRefGauges();
        ManagedResource<Object> h = register("dying");
        h.acquire();

        h.kill();

        assertThat(meters.get("percpu.refs.in.flight").tag("ref", "dying").gauge().value()).isEqualTo(1.0);
    }

    @Test
    void everyMeterHasADescription() {
        bindWithPerRefGauges();
        register("a").acquire();

        assertThat(meters.getMeters()).hasSize(11)
                .allSatisfy(m -> assertThat(m.getId().getDescription()).as(m.getId().getName()).isNotBlank());
    }

    @Test
    void noMeterNameEndsInTotal() {
        bindWithPerRefGauges();
        register("a");

        assertThat(meters.getMeters()).extracting(m -> m.getId().getName())
                .noneMatch(name -> name.endsWith("total"));
    }

    @Test
    void optionTagsApplyToEveryMeter() {
        new PercpuRefMetrics(registry, PercpuRefMetrics.Options.defaults()
                .perRefMetrics(true)
                .tags(Tags.of("pool", "aio")))
                .bindTo(meters);
        register("a");

        assertThat(meters.getMeters()).extracting(Meter::getId)
                .allSatisfy(id -> assertThat(id.getTag("pool")).isEqualTo("aio"));
    }

    @Test
    void defaultOptionsHaveNoPerRefGaugesAndNoTags() {
        PercpuRefMetrics.Options defaults = PercpuRefMetrics.Options.defaults();

        assertThat(defaults.perRefMetrics()).isFalse();
        assertThat(defaults.tags()).isEmpty();
    }

    @Test
    void bindingTwiceToTheSameMeterRegistryRecordsEachEventOnce() {
        PercpuRefMetrics metrics = new PercpuRefMetrics(registry);
        metrics.bindTo(meters);
        metrics.bindTo(meters);

        register("a").kill();

        assertThat(meters.get("percpu.refs.drain.latency").timer().count()).isEqualTo(1);
    }

    @Test
    void oneBinderFeedsEveryMeterRegistryItIsBoundTo() {
        PercpuRefMetrics metrics = new PercpuRefMetrics(registry);
        SimpleMeterRegistry other = new SimpleMeterRegistry();
        metrics.bindTo(meters);
        metrics.bindTo(other);

        register("a").kill();

        assertThat(meters.get("percpu.refs.drain.latency").timer().count()).isEqualTo(1);
        assertThat(other.get("percpu.refs.drain.latency").timer().count()).isEqualTo(1);
    }

    @Test
    void aNullRegistryIsRejected() {
        assertThatThrownBy(() -> new PercpuRefMetrics(null))
                .isInstanceOf(NullPointerException.class)
                .hasMessage("registry");
    }
}
