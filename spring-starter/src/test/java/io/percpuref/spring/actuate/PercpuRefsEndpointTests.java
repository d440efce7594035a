package io.percpuref.spring.actuate;

import io.percpuref.registry.Lease;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefRegistry;
import io.percpuref.registry.RefState;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

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
}
