package io.percpuref.registry;

import io.percpuref.CapturedLog;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Level;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Changing leak detection on a running registry: {@link RefRegistry#setLeakDetection}, {@link RefRegistry#setLeakSamplingInterval}. */
class LeakTuningTest {

    @RegisterExtension
    final RegistriesShutDown registries = new RegistriesShutDown();
    private final List<Lease<?>> kept = new ArrayList<>();

    private RefRegistry registry(LeakDetection detection) {
        RefRegistry registry = RefRegistry.builder().name("tuned").leakDetection(detection).build();
        registries.add(registry);
        return registry;
    }

    private <T> Lease<T> keep(Lease<T> lease) {
        kept.add(lease);
        return lease;
    }

    private static boolean tracked(Lease<?> lease) {
        return ((RefLease<?>) lease).leakRecord() != null;
    }

    @AfterEach
    void shutDown() {
        kept.forEach(Lease::close); // before the registries are shut down (RegistriesShutDown)
    }

    @Test
    void theConfiguredSettingIsReported() {
        RefRegistry registry = RefRegistry.builder().leakDetection(LeakDetection.SIMPLE).leakSamplingInterval(64).build();
        registries.add(registry);

        assertThat(registry.leakDetection()).isEqualTo(LeakDetection.SIMPLE);
        assertThat(registry.leakSamplingInterval()).isEqualTo(64);
    }

    @Test
    void paranoidFromNowOnTracksTheNextLeasesOfALiveResourceButNotTheOpenOnes() {
        RefRegistry registry = registry(LeakDetection.DISABLED);
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);
        Lease<TestResource> before = keep(h.acquire());

        registry.setLeakDetection(LeakDetection.PARANOID);
        Lease<TestResource> after = keep(h.acquire());

        assertThat(registry.leakDetection()).isEqualTo(LeakDetection.PARANOID);
        assertThat(tracked(before)).isFalse();
        assertThat(tracked(after)).isTrue();
        assertThat(h.openLeases().holders()).hasSize(1);
        assertThat(h.openLeases().untracked()).isEqualTo(1);
    }

    @Test
    void disablingStopsTrackingNewLeasesAndKeepsTrackingTheOpenOnes() {
        RefRegistry registry = registry(LeakDetection.PARANOID);
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);
        Lease<TestResource> before = keep(h.acquire());

        registry.setLeakDetection(LeakDetection.DISABLED);
        Lease<TestResource> after = keep(h.acquire());

        assertThat(tracked(before)).isTrue();
        assertThat(tracked(after)).isFalse();
        before.close();
        assertThat(h.openLeases().count()).isEqualTo(1);
        assertThat(h.openLeases().holders()).isEmpty();
    }

    @Test
    void aResourceRegisteredAfterAChangeUsesTheNewSetting() {
        RefRegistry registry = registry(LeakDetection.DISABLED);
        registry.setLeakDetection(LeakDetection.PARANOID);

        ManagedResource<TestResource> h = registry.register("later", new TestResource(), TestResource::close);

        assertThat(tracked(keep(h.acquire()))).isTrue();
    }

    @Test
    void aSamplingIntervalOfOneTracksEveryLeaseOnceTheLevelIsSimple() {
        RefRegistry registry = registry(LeakDetection.DISABLED);
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);

        registry.setLeakSamplingInterval(1);
        assertThat(tracked(keep(h.acquire()))).as("kept for SIMPLE, unused while DISABLED").isFalse();
        registry.setLeakDetection(LeakDetection.SIMPLE);

        assertThat(registry.leakSamplingInterval()).isEqualTo(1);
        for (int i = 0; i < 20; i++) {
            assertThat(tracked(keep(h.acquire()))).isTrue();
        }
    }

    @Test
    void aDyingResourceKeepsTrackingEveryLeaseWhateverTheSetting() {
        RefRegistry registry = registry(LeakDetection.PARANOID);
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);
        Lease<TestResource> open = keep(h.acquire());
        h.kill();

        registry.setLeakDetection(LeakDetection.DISABLED);

        assertThat(tracked(keep(open.retain()))).isTrue();
        assertThat(((ManagedEntry<?>) h).sampling()).isEqualTo(ManagedEntry.TRACK_FROM_KILL);
    }

    @Test
    void aSamplingIntervalBelowOneIsRefusedNamingTheRegistryAndNothingChanges() {
        RefRegistry registry = registry(LeakDetection.SIMPLE);

        assertThatThrownBy(() -> registry.setLeakSamplingInterval(0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("registry 'tuned' (leak detection SIMPLE): leak sampling interval must be at least 1, was 0");
        assertThat(registry.leakSamplingInterval()).isEqualTo(128);
    }

    @Test
    void aNullLevelIsRefused() {
        RefRegistry registry = registry(LeakDetection.SIMPLE);

        assertThatThrownBy(() -> registry.setLeakDetection(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("level");
        assertThat(registry.leakDetection()).isEqualTo(LeakDetection.SIMPLE);
    }

    @Test
    void aChangeIsLoggedWithTheOldAndNewSetting() {
        RefRegistry registry = registry(LeakDetection.SIMPLE);
        try (CapturedLog log = CapturedLog.of(RefRegistry.class, r -> r.getLevel() == Level.INFO)) {
            registry.setLeakDetection(LeakDetection.PARANOID);

            assertThat(log.messages()).containsExactly("registry 'tuned': leak detection SIMPLE "
                    + "(sampling interval 128) -> PARANOID (sampling interval 128) for leases acquired from now on");
        }
        assertThat(registry.toString()).contains("leakDetection=PARANOID");
    }
}
