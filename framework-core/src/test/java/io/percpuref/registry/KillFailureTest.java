package io.percpuref.registry;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A VM error during a kill (a listener's StackOverflowError, no memory for the stuck detector's
 * thread) never leaves the entry's state and its ref disagreeing: an entry that is no longer LIVE
 * hands out no lease.
 */
class KillFailureTest {

    private final RefRegistry registry = RefRegistry.builder().leakDetection(LeakDetection.DISABLED).build();

    private void failOnKilled(AtomicBoolean armed) {
        registry.addListener(new RefListener() {
            @Override
            public void onKilled(RefInfo info) {
                if (armed.getAndSet(false)) {
                    throw new StackOverflowError("listener overflow (test)");
                }
            }
        });
    }

    @Test
    void aVmErrorFromAKillListenerStillKillsTheRef() {
        failOnKilled(new AtomicBoolean(true));
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);

        assertThatThrownBy(h::kill).isInstanceOf(StackOverflowError.class);

        assertThat(h.state()).isNotEqualTo(RefState.LIVE);
        assertThat(h.tryAcquire()).isEmpty();
    }

    @Test
    void aResourceWhoseKillListenerFailedIsStillReleased() {
        failOnKilled(new AtomicBoolean(true));
        TestResource resource = new TestResource();
        ManagedResource<TestResource> h = registry.register("r", resource, TestResource::close);

        assertThatThrownBy(h::kill).isInstanceOf(StackOverflowError.class);

        org.awaitility.Awaitility.await().until(() -> h.state() == RefState.RELEASED);
        assertThat(resource.closes()).isEqualTo(1);
    }

    @Test
    void aVmErrorKillingOneResourceDoesNotStopShutdownKillingTheRest() {
        failOnKilled(new AtomicBoolean(true));
        ManagedResource<TestResource> a = registry.register("a", new TestResource(), TestResource::close);
        ManagedResource<TestResource> b = registry.register("b", new TestResource(), TestResource::close);
        a.acquire();
        b.acquire();

        assertThatThrownBy(() -> registry.shutdown(Duration.ZERO)).isInstanceOf(StackOverflowError.class);

        assertThat(a.state()).isEqualTo(RefState.DYING);
        assertThat(b.state()).isEqualTo(RefState.DYING);
        assertThat(a.tryAcquire()).isEmpty();
        assertThat(b.tryAcquire()).isEmpty();
    }
}
