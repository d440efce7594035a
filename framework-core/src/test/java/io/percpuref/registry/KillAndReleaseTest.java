package io.percpuref.registry;

import io.percpuref.PercpuRefException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

class KillAndReleaseTest {

    private final List<PercpuRefException> reported = new CopyOnWriteArrayList<>();
    private final ExecutorService callbacks = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "test-callbacks");
        t.setDaemon(true);
        return t;
    });
    private final RefRegistry registry = RefRegistry.builder()
            .callbackExecutor(callbacks)
            .errorReporter(reported::add)
            .build();

    @AfterEach
    void shutDown() {
        registry.shutdown(Duration.ZERO);
        callbacks.shutdownNow();
    }

    @Test
    void killMovesALiveResourceToDying() {
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);
        h.acquire();

        h.kill();

        assertThat(h.state()).isEqualTo(RefState.DYING);
    }

    @Test
    void killStageCompletesOnceTheKillIsConfirmed() throws Exception {
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);
        h.acquire();

        CompletableFuture<Void> confirmed = h.kill().toCompletableFuture();

        assertThat(confirmed.get(10, TimeUnit.SECONDS)).isNull();
        assertThat(h.state()).isEqualTo(RefState.DYING); // confirmed, not released: a lease is open
    }

    @Test
    void killingTwiceThrowsWithNameAndState() {
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);
        h.acquire();
        h.kill();

        assertThatThrownBy(h::kill)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("'r'")
                .hasMessageContaining("DYING")
                .hasMessageContaining("already killed");
    }

    @Test
    void killingAReleasedResourceThrowsWithItsState() throws Exception {
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);
        h.kill();
        h.released().toCompletableFuture().get(10, TimeUnit.SECONDS);

        assertThatThrownBy(h::kill)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("RELEASED");
    }

    @Test
    void releaseActionRunsExactlyOnceWhenTheLastLeaseCloses() throws Exception {
        TestResource resource = new TestResource();
        ManagedResource<TestResource> h = registry.register("r", resource, TestResource::close);
        Lease<TestResource> a = h.acquire();
        Lease<TestResource> b = h.acquire();
        h.kill();

        a.close();
        b.close();
        h.released().toCompletableFuture().get(10, TimeUnit.SECONDS);

        assertThat(resource.closes()).isEqualTo(1);
    }

    @Test
    void releaseActionRunsOnTheCallbackExecutor() throws Exception {
        TestResource resource = new TestResource();
        ManagedResource<TestResource> h = registry.register("r", resource, TestResource::close);

        h.kill();
        h.released().toCompletableFuture().get(10, TimeUnit.SECONDS);

        assertThat(resource.closedOn()).isEqualTo("test-callbacks");
    }

    @Test
    void defaultCallbackExecutorIsTheRegistrysOwnDaemonPool() throws Exception {
        RefRegistry defaults = RefRegistry.builder().build();
        TestResource resource = new TestResource();
        ManagedResource<TestResource> h = defaults.register("r", resource, TestResource::close);

        h.kill();
        h.released().toCompletableFuture().get(10, TimeUnit.SECONDS);

        assertThat(resource.closedOn()).startsWith("percpu-ref-default-").contains("-callback-");
    }

    @Test
    void releaseActionRunsAfterTheKillIsConfirmed() throws Exception {
        AtomicBoolean confirmedFirst = new AtomicBoolean();
        AtomicReference<CompletableFuture<Void>> confirm = new AtomicReference<>();
        ManagedResource<TestResource> h = registry.register("r", new TestResource(),
                r -> confirmedFirst.set(confirm.get().isDone()));
        Lease<TestResource> lease = h.acquire();
        confirm.set(h.kill().toCompletableFuture());

        lease.close();
        h.released().toCompletableFuture().get(10, TimeUnit.SECONDS);

        assertThat(confirmedFirst).isTrue();
    }

    @Test
    void releasedResourceLeavesTheRegistry() throws Exception {
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);

        h.kill();
        h.released().toCompletableFuture().get(10, TimeUnit.SECONDS);

        assertThat(h.state()).isEqualTo(RefState.RELEASED);
        assertThat(registry.find("r")).isEmpty();
        assertThat(registry.liveCount()).isZero();
        assertThat(registry.dyingCount()).isZero();
    }

    @Test
    void releasedInfoReportsKillToReleaseTime() throws Exception {
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);
        Lease<TestResource> lease = h.acquire();
        h.kill();
        await().until(() -> h.info().dyingFor().toMillis() >= 30);

        lease.close();
        h.released().toCompletableFuture().get(10, TimeUnit.SECONDS);

        RefInfo info = h.info();
        assertThat(info.inFlight()).isZero();
        assertThat(info.dyingFor()).isGreaterThanOrEqualTo(Duration.ofMillis(30));
        assertThat(h.info().dyingFor()).isEqualTo(info.dyingFor()); // frozen at release
    }

    @Test
    void throwingReleaseActionIsReportedWithTheResourceName() throws Exception {
        ManagedResource<TestResource> h = registry.register("bad", new TestResource(), r -> {
            throw new java.io.IOException("disk on fire");
        });

        h.kill();
        h.released().toCompletableFuture().get(10, TimeUnit.SECONDS);

        assertThat(reported).singleElement().satisfies(e -> {
            assertThat(e.refName()).isEqualTo("bad");
            assertThat(e.getMessage()).contains("release action threw");
            assertThat(e.getCause()).hasMessage("disk on fire");
        });
    }

    @Test
    void throwingReleaseActionStillReleasesAndFreesTheName() throws Exception {
        ManagedResource<TestResource> h = registry.register("bad", new TestResource(), r -> {
            throw new IllegalStateException("boom");
        });

        h.kill();
        h.released().toCompletableFuture().get(10, TimeUnit.SECONDS);

        assertThat(h.state()).isEqualTo(RefState.RELEASED);
        assertThat(registry.find("bad")).isEmpty();
        assertThat(registry.register("bad", new TestResource(), TestResource::close).state()).isEqualTo(RefState.LIVE);
    }

    @Test
    void blockingReleaseActionKeepsOnlyItsOwnResourceReleasing() throws Exception {
        CountDownLatch unblock = new CountDownLatch(1);
        ManagedResource<TestResource> slow = registry.register("slow", new TestResource(), r -> unblock.await());
        TestResource quickResource = new TestResource();
        ManagedResource<TestResource> quick = registry.register("quick", quickResource, TestResource::close);

        slow.kill();
        quick.kill();
        quick.released().toCompletableFuture().get(10, TimeUnit.SECONDS);

        assertThat(quickResource.closes()).isEqualTo(1);
        await().until(() -> slow.state() == RefState.RELEASING); // its action runs (blocked) on its own thread
        assertThat(slow.info().inFlight()).isZero();
        unblock.countDown();
        slow.released().toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertThat(slow.state()).isEqualTo(RefState.RELEASED);
    }

    @Test
    void killAndReleaseAreCounted() throws Exception {
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);

        h.kill();
        h.released().toCompletableFuture().get(10, TimeUnit.SECONDS);

        assertThat(registry.killCount()).isEqualTo(1);
        assertThat(registry.releaseCount()).isEqualTo(1);
    }
}
