package io.percpuref.registry;

import io.percpuref.ResourceUnavailableException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link ManagedResource#withLease}: a lease scoped to one call. It must give exactly what
 * {@code acquire()} + {@code close()} gives (the resource, the refusal when dying, the hold-off of the
 * release), close on every exit, and be tracked only where every lease is (PARANOID), since it
 * cannot leak.
 */
class ScopedLeaseTest {

    @RegisterExtension
    final RegistriesShutDown registries = new RegistriesShutDown();

    private RefRegistry registry(LeakDetection detection) {
        RefRegistry registry = RefRegistry.builder()
                .callbackExecutor(Runnable::run) // release runs in the thread of the last put
                .leakDetection(detection)
                .leakSamplingInterval(2)         // SIMPLE tracks one acquire()d lease in 2
                .build();
        registries.add(registry);
        return registry;
    }

    private final TestResource resource = new TestResource();

    @Test
    void theWorkGetsTheResourceAndItsResultIsReturnedWithTheReferenceGivenBack() {
        ManagedResource<TestResource> h = registry(LeakDetection.SIMPLE).register("r", resource, TestResource::close);

        String result = h.withLease(r -> {
            assertThat(h.info().inFlight()).isEqualTo(1);
            return r == resource ? "the resource" : "another object";
        });

        assertThat(result).isEqualTo("the resource");
        assertThat(h.info().inFlight()).isZero();
    }

    @Test
    void workThatThrowsPropagatesAndTheReferenceIsStillGivenBack() {
        ManagedResource<TestResource> h = registry(LeakDetection.SIMPLE).register("r", resource, TestResource::close);
        IllegalStateException thrown = new IllegalStateException("read failed");

        assertThatThrownBy(() -> h.withLease(r -> {
            throw thrown;
        })).isSameAs(thrown);
        assertThat(h.info().inFlight()).isZero();
        h.kill();
        assertThat(resource.closes()).as("nothing held the release").isEqualTo(1);
    }

    @Test
    void aDyingResourceRefusesTheWorkWhichDoesNotRunAndTheRejectionIsCounted() {
        RefRegistry registry = registry(LeakDetection.SIMPLE);
        ManagedResource<TestResource> h = registry.register("dying", resource, TestResource::close);
        Lease<TestResource> held = h.acquire();
        h.kill();
        AtomicBoolean ran = new AtomicBoolean();

        assertThatThrownBy(() -> h.withLease(r -> ran.getAndSet(true)))
                .isInstanceOf(ResourceUnavailableException.class)
                .hasMessageContaining("dying")
                .hasMessageContaining("DYING");
        assertThat(ran).isFalse();
        assertThat(registry.rejectionCount()).isEqualTo(1);
        held.close();
    }

    @Test
    void theScopedLeaseHoldsOffTheReleaseUntilTheWorkReturns() {
        ManagedResource<TestResource> h = registry(LeakDetection.DISABLED).register("r", resource, TestResource::close);

        RefState during = h.withLease(r -> {
            h.kill();
            assertThat(r.closes()).isZero();
            return h.state();
        });

        assertThat(during).isEqualTo(RefState.DYING);
        assertThat(h.state()).isEqualTo(RefState.RELEASED);
        assertThat(resource.closes()).isEqualTo(1);
    }

    @Test
    void simpleNeverSamplesAScopedLeaseButCountsIt() {
        ManagedResource<TestResource> h = registry(LeakDetection.SIMPLE).register("r", resource, TestResource::close);
        int sampledScoped = 0;
        int sampledAcquired = 0;
        for (int i = 0; i < 200; i++) {
            OpenLeases during = h.withLease(r -> h.openLeases());
            assertThat(during.count()).isEqualTo(1);
            sampledScoped += during.holders().size();
            try (Lease<TestResource> lease = h.acquire()) {
                sampledAcquired += h.openLeases().holders().size();
            }
        }

        assertThat(sampledScoped).as("a scoped lease cannot leak: never sampled").isZero();
        assertThat(sampledAcquired).as("acquire()d leases sampled one in 2 (none in 200: p = 2^-200)").isPositive();
        assertThat(h.info().inFlight()).isZero();
    }

    @Test
    void paranoidTracksTheScopedLeaseWithItsThread() {
        ManagedResource<TestResource> h = registry(LeakDetection.PARANOID).register("r", resource, TestResource::close);

        OpenLeases during = h.withLease(r -> h.openLeases());

        assertThat(during.holders()).singleElement()
                .satisfies(holder -> assertThat(holder.acquiredBy()).isEqualTo(Thread.currentThread().getName()));
        assertThat(h.openLeases().isEmpty()).isTrue();
    }

    @Test
    void paranoidScopedLeaseGivesTheReferenceBackWhenTheWorkThrows() {
        ManagedResource<TestResource> h = registry(LeakDetection.PARANOID).register("r", resource, TestResource::close);

        assertThatThrownBy(() -> h.withLease(r -> {
            throw new IllegalArgumentException("bad request");
        })).isInstanceOf(IllegalArgumentException.class);

        assertThat(h.openLeases().isEmpty()).isTrue();
        assertThat(h.info().inFlight()).isZero();
    }

    @Test
    void nullWorkIsRefusedBeforeAnythingIsTaken() {
        ManagedResource<TestResource> h = registry(LeakDetection.SIMPLE).register("r", resource, TestResource::close);

        assertThatNullPointerException().isThrownBy(() -> h.withLease(null)).withMessage("work");
        assertThat(h.info().inFlight()).isZero();
    }
}
