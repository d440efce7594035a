package io.percpuref.test;

import io.percpuref.registry.Lease;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefRegistry;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** {@link PercpuRefAssertions}, on registries that {@link PercpuRefExtension} checks for open leases. */
class PercpuRefAssertionsTest {

    @RegisterExtension
    final PercpuRefExtension refs = PercpuRefExtension.freshRegistry();

    private ManagedResource<String> channel(RefRegistry registry) {
        return registry.register("channel", "db-1", s -> { });
    }

    @Test
    void awaitReleasedReturnsOnceTheLastLeaseIsClosedOnAnotherThread() {
        ManagedResource<String> channel = channel(refs.registry());
        Lease<String> lease = channel.acquire();
        channel.kill();
        CompletableFuture.delayedExecutor(20, TimeUnit.MILLISECONDS).execute(lease::close);

        PercpuRefAssertions.awaitReleased(channel, Duration.ofSeconds(10));

        assertThat(channel.state()).hasToString("RELEASED");
    }

    @Test
    void awaitReleasedFailsNamingTheDyingResourceAndTheLeaseHoldingIt() {
        ManagedResource<String> channel = channel(refs.registry());
        Lease<String> lease = channel.acquire();
        channel.kill();

        assertThatThrownBy(() -> PercpuRefAssertions.awaitReleased(channel, Duration.ofMillis(20)))
                .isInstanceOf(AssertionError.class)
                .hasMessageStartingWith("resource 'channel' was not released within PT0.02S: it is DYING, dying for PT")
                .hasMessageContaining(", waiting for its leases\nresource 'channel' [DYING]: 1 open lease\n  held for PT")
                .hasMessageContaining("by thread '" + Thread.currentThread().getName() + "'\n    at "
                        + PercpuRefAssertionsTest.class.getName()
                        + ".awaitReleasedFailsNamingTheDyingResourceAndTheLeaseHoldingIt(");
        lease.close();
    }

    @Test
    void awaitReleasedOnAResourceNobodyKilledSaysSo() {
        ManagedResource<String> channel = channel(refs.registry());

        assertThatThrownBy(() -> PercpuRefAssertions.awaitReleased(channel, Duration.ZERO))
                .isInstanceOf(AssertionError.class)
                .hasMessage("resource 'channel' was not released within PT0S: it is LIVE (never killed: kill() it,"
                        + " or shut its registry down)");
    }

    @Test
    void awaitReleasedRefusesANegativeTimeoutNamingTheResource() {
        ManagedResource<String> channel = channel(refs.registry());

        assertThatThrownBy(() -> PercpuRefAssertions.awaitReleased(channel, Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("timeout must not be negative, was PT-1S (waiting for resource 'channel')");
    }

    @Test
    void assertReleasedWorksWithAwaitilityAndItsTimeoutCarriesTheMessage() {
        ManagedResource<String> channel = channel(refs.registry());
        Lease<String> lease = channel.acquire();
        channel.kill();

        assertThatThrownBy(() -> await().pollInterval(Duration.ofMillis(10)).atMost(Duration.ofMillis(200))
                .untilAsserted(() -> PercpuRefAssertions.assertReleased(channel)))
                .isInstanceOf(ConditionTimeoutException.class)
                .hasMessageContaining("resource 'channel' is not released: it is DYING");

        lease.close();
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> PercpuRefAssertions.assertReleased(channel));
    }

    @Test
    void assertNoOpenLeasesNamesEachOpenLease() {
        RefRegistry registry = refs.registry();
        ManagedResource<String> channel = channel(registry);
        Lease<String> lease = channel.acquire();

        assertThatThrownBy(() -> PercpuRefAssertions.assertNoOpenLeases(channel))
                .isInstanceOf(AssertionError.class)
                .hasMessageStartingWith("expected no open lease, but resource 'channel' [LIVE]: 1 open lease\n  held for PT");
        assertThatThrownBy(() -> PercpuRefAssertions.assertNoOpenLeases(registry))
                .isInstanceOf(AssertionError.class)
                .hasMessageStartingWith("expected no open lease in registry 'test', but:\n"
                        + "resource 'channel' [LIVE]: 1 open lease\n  held for PT");

        lease.close();
        assertThatCode(() -> PercpuRefAssertions.assertNoOpenLeases(channel)).doesNotThrowAnyException();
        assertThatCode(() -> PercpuRefAssertions.assertNoOpenLeases(registry)).doesNotThrowAnyException();
    }
}
