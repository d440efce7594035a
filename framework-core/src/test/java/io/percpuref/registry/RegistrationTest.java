package io.percpuref.registry;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;
import static org.awaitility.Awaitility.await;

class RegistrationTest {

    private final RefRegistry registry = RefRegistry.builder().build();

    @AfterEach
    void shutDown() {
        registry.shutdown(Duration.ZERO);
    }

    @Test
    void registerReturnsALiveHandleUnderItsName() {
        ManagedResource<TestResource> h = registry.register("aio-ctx-7", new TestResource(), TestResource::close);

        assertThat(h.name()).isEqualTo("aio-ctx-7");
        assertThat(h.state()).isEqualTo(RefState.LIVE);
    }

    @Test
    void findReturnsTheRegisteredHandle() {
        ManagedResource<TestResource> h = registry.register("aio-ctx-7", new TestResource(), TestResource::close);

        assertThat(registry.find("aio-ctx-7")).containsSame(h);
    }

    @Test
    void findOfAnUnknownNameIsEmpty() {
        assertThat(registry.find("nope")).isEmpty();
    }

    @Test
    void nullNameIsRejected() {
        assertThatThrownBy(() -> registry.register(null, new TestResource(), TestResource::close))
                .isInstanceOf(NullPointerException.class)
                .hasMessage("name");
    }

    @Test
    void blankNameIsRejected() {
        assertThatThrownBy(() -> registry.register("  ", new TestResource(), TestResource::close))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("blank");
    }

    @Test
    void nullResourceIsRejected() {
        assertThatThrownBy(() -> registry.register("r", null, r -> { }))
                .isInstanceOf(NullPointerException.class)
                .hasMessage("resource");
    }

    @Test
    void nullReleaseActionIsRejected() {
        assertThatThrownBy(() -> registry.register("r", new TestResource(), null))
                .isInstanceOf(NullPointerException.class)
                .hasMessage("onRelease");
    }

    @Test
    void duplicateLiveNameIsRejectedWithNameAndState() {
        registry.register("dup", new TestResource(), TestResource::close);

        assertThatThrownBy(() -> registry.register("dup", new TestResource(), TestResource::close))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'dup'")
                .hasMessageContaining("LIVE");
    }

    @Test
    void duplicateRegistrationLeavesTheExistingResourceUnchanged() throws Exception {
        TestResource first = new TestResource();
        TestResource second = new TestResource();
        ManagedResource<TestResource> h = registry.register("dup", first, TestResource::close);
        Lease<TestResource> lease = h.acquire();

        assertThatThrownBy(() -> registry.register("dup", second, TestResource::close))
                .isInstanceOf(IllegalArgumentException.class);

        assertThat(registry.find("dup")).containsSame(h);
        assertThat(h.state()).isEqualTo(RefState.LIVE);
        assertThat(h.info().inFlight()).isEqualTo(1);
        assertThat(lease.resource()).isSameAs(first);
        lease.close();
        h.kill();
        h.released().toCompletableFuture().get();
        assertThat(first.closes()).isEqualTo(1);
        assertThat(second.closes()).isZero();
    }

    @Test
    void duplicateOfADyingNameIsRejectedWithItsState() {
        ManagedResource<TestResource> h = registry.register("dup", new TestResource(), TestResource::close);
        h.acquire(); // keeps it dying
        h.kill();

        assertThatThrownBy(() -> registry.register("dup", new TestResource(), TestResource::close))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'dup'")
                .hasMessageContaining("DYING");
    }

    @Test
    void nameIsFreeAgainOnceItsResourceIsReleased() throws Exception {
        ManagedResource<TestResource> old = registry.register("reuse", new TestResource(), TestResource::close);
        old.kill();
        old.released().toCompletableFuture().get();

        ManagedResource<TestResource> fresh = registry.register("reuse", new TestResource(), TestResource::close);

        assertThat(registry.find("reuse")).containsSame(fresh);
        assertThat(fresh.state()).isEqualTo(RefState.LIVE);
    }

    @Test
    void snapshotListsLiveAndDyingResourcesInNameOrder() {
        registry.register("b", new TestResource(), TestResource::close);
        ManagedResource<TestResource> a = registry.register("a", new TestResource(), TestResource::close);
        a.acquire();
        a.kill();

        assertThat(registry.snapshot())
                .extracting(RefInfo::name, RefInfo::state)
                .containsExactly(tuple("a", RefState.DYING), tuple("b", RefState.LIVE));
    }

    @Test
    void snapshotOmitsReleasedResources() throws Exception {
        ManagedResource<TestResource> h = registry.register("gone", new TestResource(), TestResource::close);
        h.kill();
        h.released().toCompletableFuture().get();

        assertThat(registry.snapshot()).isEmpty();
    }

    @Test
    void infoCountsOpenLeasesAsInFlight() {
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);
        h.acquire();
        h.acquire();

        assertThat(h.info().inFlight()).isEqualTo(2);
    }

    @Test
    void infoOfALiveResourceIsNotDying() {
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);

        RefInfo info = h.info();

        assertThat(info.state()).isEqualTo(RefState.LIVE);
        assertThat(info.dyingFor()).isEqualTo(Duration.ZERO);
        assertThat(info.age()).isGreaterThanOrEqualTo(Duration.ZERO);
    }

    @Test
    void infoOfADyingResourceMeasuresTimeSinceTheKill() {
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);
        h.acquire();
        h.kill();

        await().untilAsserted(() -> assertThat(h.info().dyingFor()).isGreaterThan(Duration.ofMillis(20)));
        assertThat(h.info().inFlight()).isEqualTo(1);
    }

    @Test
    void registerAfterShutdownIsRejected() {
        registry.shutdown(Duration.ZERO);

        assertThatThrownBy(() -> registry.register("late", new TestResource(), TestResource::close))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("'late'")
                .hasMessageContaining("shut down");
    }
}
