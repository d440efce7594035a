package io.percpuref.spring.actuate;

import io.percpuref.registry.LeakDetection;
import io.percpuref.registry.Lease;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefRegistry;
import io.percpuref.registry.RefState;
import org.junit.jupiter.api.Test;
import org.springframework.boot.actuate.endpoint.InvalidEndpointRequestException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PercpuRefsEndpointTests {

    private final RefRegistry registry = RefRegistry.builder().build();

    private final PercpuRefsEndpoint endpoint = new PercpuRefsEndpoint(this.registry);

    @Test
    void readListsEveryResourceInNameOrderWithCounts() {
        this.registry.register("b", new Object(), r -> { });
        ManagedResource<Object> a = this.registry.register("a", new Object(), r -> { });
        Lease<Object> lease = a.acquire();
        PercpuRefsEndpoint.RefsDescriptor refs = this.endpoint.refs();
        lease.close();
        assertThat(refs.live()).isEqualTo(2);
        assertThat(refs.dying()).isZero();
        assertThat(refs.stuckThreshold()).isEqualTo("PT1M");
        assertThat(refs.refs()).extracting(PercpuRefsEndpoint.RefDescriptor::name).containsExactly("a", "b");
        assertThat(refs.refs().get(0).inFlight()).isEqualTo(1);
        assertThat(refs.refs().get(0).dyingFor()).isEqualTo("PT0S");
    }

    @Test
    void readOneByNameOrNullWhenUnknown() {
        this.registry.register("a", new Object(), r -> { });
        assertThat(this.endpoint.ref("a").state()).isEqualTo(RefState.LIVE);
        assertThat(this.endpoint.ref("nope")).isNull();
    }

    @Test
    void writeKillsALiveResource() {
        ManagedResource<Object> a = this.registry.register("a", new Object(), r -> { });
        Lease<Object> lease = a.acquire();
        PercpuRefsEndpoint.KillDescriptor kill = this.endpoint.kill("a");
        assertThat(kill.killed()).isTrue();
        assertThat(kill.state()).isEqualTo(RefState.DYING);
        assertThat(a.state()).isEqualTo(RefState.DYING);
        lease.close();
    }

    @Test
    void writeOnADyingResourceReportsItWithoutKillingAgain() {
        ManagedResource<Object> a = this.registry.register("a", new Object(), r -> { });
        Lease<Object> lease = a.acquire();
        a.kill();
        PercpuRefsEndpoint.KillDescriptor kill = this.endpoint.kill("a");
        assertThat(kill.killed()).isFalse();
        assertThat(kill.state()).isEqualTo(RefState.DYING);
        assertThat(kill.message()).startsWith("already killed");
        lease.close();
    }

    @Test
    void writeOnAnUnknownNameKillsNothing() {
        PercpuRefsEndpoint.KillDescriptor kill = this.endpoint.kill("nope");
        assertThat(kill.killed()).isFalse();
        assertThat(kill.state()).isNull();
    }

    @Test
    void readOfALiveResourceHasNoHolders() {
        this.registry.register("a", new Object(), r -> { });
        assertThat(this.endpoint.ref("a").holders()).isNull();
    }

    @Test
    void readOneDyingResourceListsItsHoldersWithTheirTraces() {
        this.registry.setLeakDetection(LeakDetection.PARANOID);
        ManagedResource<Object> a = this.registry.register("a", new Object(), r -> { });
        Lease<Object> lease = a.acquire();
        a.kill();

        PercpuRefsEndpoint.HoldersDescriptor holders = this.endpoint.ref("a").holders();
        PercpuRefsEndpoint.HoldersDescriptor listed = this.endpoint.refs().refs().get(0).holders();
        lease.close();

        assertThat(holders.openLeases()).isEqualTo(1);
        assertThat(holders.untracked()).isZero();
        assertThat(holders.oldestTracked()).startsWith("PT");
        assertThat(holders.tracked()).singleElement().satisfies(holder -> {
            assertThat(holder.thread()).isEqualTo(Thread.currentThread().getName());
            assertThat(holder.site()).startsWith(PercpuRefsEndpointTests.class.getName()
                    + ".readOneDyingResourceListsItsHoldersWithTheirTraces(");
            assertThat(holder.trace()).first().isEqualTo(holder.site());
        });
        assertThat(listed.tracked()).singleElement().satisfies(holder -> assertThat(holder.trace()).isEmpty());
    }

    @Test
    void readOfADyingResourceCountsTheUntrackedLeasesOpenedBeforeTheKill() {
        this.registry.setLeakDetection(LeakDetection.DISABLED);
        ManagedResource<Object> a = this.registry.register("a", new Object(), r -> { });
        Lease<Object> lease = a.acquire();
        a.kill();

        PercpuRefsEndpoint.HoldersDescriptor holders = this.endpoint.ref("a").holders();
        lease.close();

        assertThat(holders.openLeases()).isEqualTo(1);
        assertThat(holders.tracked()).isEmpty();
        assertThat(holders.untracked()).isEqualTo(1);
        assertThat(holders.untrackedHeldAtLeast()).startsWith("PT");
        assertThat(holders.oldestTracked()).isNull();
    }

    @Test
    void readShowsTheLeakDetectionSetting() {
        PercpuRefsEndpoint.RefsDescriptor refs = this.endpoint.refs();
        assertThat(refs.leakDetection()).isEqualTo(LeakDetection.SIMPLE);
        assertThat(refs.leakSamplingInterval()).isEqualTo(128);
    }

    @Test
    void writeChangesTheLeakDetectionOfTheRunningRegistry() {
        PercpuRefsEndpoint.LeakDetectionDescriptor changed = this.endpoint.leakDetection(LeakDetection.PARANOID, null);

        assertThat(this.registry.leakDetection()).isEqualTo(LeakDetection.PARANOID);
        assertThat(changed.leakDetection()).isEqualTo(LeakDetection.PARANOID);
        assertThat(changed.leakSamplingInterval()).isEqualTo(128);
        assertThat(changed.message()).isEqualTo("leak detection SIMPLE (sampling interval 128) -> PARANOID "
                + "(sampling interval 128) for leases acquired from now on; open leases keep their tracking");
    }

    @Test
    void writeChangesTheSamplingIntervalAlone() {
        this.endpoint.leakDetection(null, 16);

        assertThat(this.registry.leakDetection()).isEqualTo(LeakDetection.SIMPLE);
        assertThat(this.registry.leakSamplingInterval()).isEqualTo(16);
    }

    @Test
    void writeWithoutLevelOrIntervalIsABadRequestNamingTheRegistry() {
        assertThatThrownBy(() -> this.endpoint.leakDetection(null, null))
                .isInstanceOf(InvalidEndpointRequestException.class)
                .hasMessage("registry 'default' (leak detection SIMPLE (sampling interval 128)): give leakDetection "
                        + "([DISABLED, SIMPLE, PARANOID]) or leakSamplingInterval, or both");
    }

    @Test
    void writeOfAnIntervalBelowOneIsABadRequestAndChangesNothing() {
        assertThatThrownBy(() -> this.endpoint.leakDetection(LeakDetection.PARANOID, 0))
                .isInstanceOf(InvalidEndpointRequestException.class)
                .hasMessage("registry 'default' (leak detection SIMPLE (sampling interval 128)): "
                        + "leakSamplingInterval must be at least 1, was 0");
        assertThat(this.registry.leakDetection()).isEqualTo(LeakDetection.SIMPLE);
        assertThat(this.registry.leakSamplingInterval()).isEqualTo(128);
    }
}
