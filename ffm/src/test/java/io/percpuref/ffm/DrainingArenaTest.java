package io.percpuref.ffm;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.percpuref.ResourceUnavailableException;
import io.percpuref.micrometer.PercpuRefMetrics;
import io.percpuref.registry.LeakDetection;
import io.percpuref.registry.LeakReport;
import io.percpuref.registry.RefInfo;
import io.percpuref.registry.RefListener;
import io.percpuref.registry.RefRegistry;
import io.percpuref.registry.RefState;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

class DrainingArenaTest {

    private final ExecutorService callbacks = Executors.newSingleThreadExecutor(r -> new Thread(r, "arena-callbacks"));
    private final RefRegistry registry = RefRegistry.builder()
            .name("arena-test")
            .callbackExecutor(callbacks)
            .build();

    @AfterEach
    void shutDown() throws InterruptedException {
        registry.shutdown(Duration.ofSeconds(5));
        callbacks.shutdownNow();
        callbacks.awaitTermination(5, TimeUnit.SECONDS);
    }

    private static CompletableFuture<Void> future(java.util.concurrent.CompletionStage<Void> stage) {
        return stage.toCompletableFuture();
    }

    @Test
    void withLeaseRunsTheWorkUnderALeaseSoTheMemoryOutlivesACloseInsideIt() throws Exception {
        DrainingArena arena = DrainingArena.open(registry, "scoped-1");
        MemorySegment segment = arena.allocate(ValueLayout.JAVA_LONG, 4);
        segment.setAtIndex(ValueLayout.JAVA_LONG, 2, 7L);

        long read = arena.withLease(() -> {
            arena.close();
            assertThat(arena.state()).isEqualTo(RefState.DYING);
            assertThat(arena.freed().toCompletableFuture()).isNotDone();
            return segment.getAtIndex(ValueLayout.JAVA_LONG, 2);
        });

        assertThat(read).isEqualTo(7L);
        future(arena.freed()).get(5, TimeUnit.SECONDS);
        assertThatThrownBy(() -> segment.getAtIndex(ValueLayout.JAVA_LONG, 2))
                .isInstanceOf(IllegalStateException.class);
    }

    @Test
    void withLeaseOnAClosedArenaRefusesAndTheWorkDoesNotRun() {
        DrainingArena arena = DrainingArena.open(registry, "scoped-2");
        arena.close();
        AtomicBoolean ran = new AtomicBoolean();

        assertThatThrownBy(() -> arena.withLease(() -> ran.getAndSet(true)))
                .isInstanceOf(ResourceUnavailableException.class)
                .hasMessageContaining("scoped-2");
        assertThat(ran).isFalse();
        assertThatNullPointerException().isThrownBy(() -> arena.withLease(null));
    }

    @Test
    void allocatedMemoryIsSharedBetweenThreadsUnderLeases() throws Exception {
        DrainingArena arena = DrainingArena.open(registry, "shared-1");
        MemorySegment segment = arena.allocate(ValueLayout.JAVA_LONG, 4);
        segment.setAtIndex(ValueLayout.JAVA_LONG, 3, 42L);

        CompletableFuture<Long> read = CompletableFuture.supplyAsync(() -> {
            try (ArenaLease lease = arena.acquire()) {
                return segment.getAtIndex(ValueLayout.JAVA_LONG, 3);
            }
        });

        assertThat(read.get(5, TimeUnit.SECONDS)).isEqualTo(42L);
        assertThat(segment.scope()).isEqualTo(arena.scope());
        assertThat(arena.scope().isAlive()).isTrue();
        assertThat(arena.allocateFrom("hello").getString(0)).isEqualTo("hello");
    }

    @Test
    void closeWithALeaseOpenReturnsAtOnceAndKeepsTheMemoryUntilTheLeaseCloses() {
        DrainingArena arena = DrainingArena.open(registry, "shared-2");
        MemorySegment segment = arena.allocate(4096);
        segment.fill((byte) 7);
        ArenaLease lease = arena.acquire();

        arena.close();

        assertThat(arena.state()).isEqualTo(RefState.DYING);
        assertThat(arena.scope().isAlive()).isTrue();
        assertThat(segment.get(ValueLayout.JAVA_BYTE, 4095)).isEqualTo((byte) 7);
        assertThat(future(arena.freed())).isNotDone();

        lease.close();

        future(arena.freed()).join();
        assertThat(arena.scope().isAlive()).isFalse();
        await().until(() -> arena.state() == RefState.RELEASED);
    }

    @Test
    void aSegmentUsedAfterTheMemoryIsGoneFailsWithTheJdksIllegalStateException() {
        DrainingArena arena = DrainingArena.open(registry, "shared-3");
        MemorySegment segment = arena.allocate(64);

        arena.close();
        future(arena.freed()).join();

        assertThatThrownBy(() -> segment.get(ValueLayout.JAVA_BYTE, 0))
                .isExactlyInstanceOf(IllegalStateException.class)
                .hasMessageContaining("Already closed");
        assertThatThrownBy(() -> segment.set(ValueLayout.JAVA_INT, 0, 1))
                .isExactlyInstanceOf(IllegalStateException.class);
    }

    @Test
    void theMemoryIsFreedOnTheRegistrysCallbackExecutor() {
        DrainingArena arena = DrainingArena.open(registry, "shared-4");
        ArenaLease lease = arena.acquire();
        arena.close();
        AtomicReference<String> freedOn = new AtomicReference<>();
        CompletableFuture<Void> observed = future(arena.freed()).thenRun(() -> freedOn.set(Thread.currentThread().getName()));

        lease.close();

        observed.join();
        assertThat(freedOn.get()).isEqualTo("arena-callbacks");
    }

    @Test
    void killConfirmsBeforeTheMemoryIsFreed() {
        DrainingArena arena = DrainingArena.open(registry, "shared-5");
        ArenaLease lease = arena.acquire();

        CompletableFuture<Void> confirmed = future(arena.kill());

        confirmed.join();
        assertThat(future(arena.freed())).isNotDone();
        lease.close();
        future(arena.freed()).join();
    }

    @Test
    void acquireAfterCloseIsRefusedWithResourceUnavailableException() {
        DrainingArena arena = DrainingArena.open(registry, "shared-6");
        ArenaLease held = arena.acquire();
        arena.close();

        assertThatThrownBy(arena::acquire)
                .isInstanceOf(ResourceUnavailableException.class)
                .hasMessageContaining("'shared-6' [DYING]");
        assertThat(arena.tryAcquire()).isEmpty();
        held.close();
    }

    @Test
    void allocateAfterCloseIsRefusedWithResourceUnavailableException() {
        DrainingArena arena = DrainingArena.open(registry, "shared-7");
        ArenaLease held = arena.acquire();
        arena.close();

        assertThatThrownBy(() -> arena.allocate(16))
                .isInstanceOfSatisfying(ResourceUnavailableException.class, e -> {
                    assertThat(e.resourceName()).isEqualTo("shared-7");
                    assertThat(e.resourceState()).isEqualTo("DYING");
                });
        held.close();
        future(arena.freed()).join();
        assertThatThrownBy(() -> arena.allocate(16)).isInstanceOf(ResourceUnavailableException.class);
    }

    @Test
    void aLeaseClosedTwiceIsPutOnce() {
        DrainingArena arena = DrainingArena.open(registry, "shared-8");
        ArenaLease first = arena.acquire();
        ArenaLease second = arena.acquire();
        arena.close();

        first.close();
        first.close();

        assertThat(arena.info().inFlight()).isEqualTo(1);
        assertThat(future(arena.freed())).isNotDone();
        assertThat(arena.scope().isAlive()).isTrue();
        second.close();
        future(arena.freed()).join();
    }

    @Test
    void aClosedLeaseNoLongerHandsOutItsArena() {
        DrainingArena arena = DrainingArena.open(registry, "shared-9");
        ArenaLease lease = arena.acquire();
        assertThat(lease.arena()).isSameAs(arena);

        lease.close();

        assertThatThrownBy(lease::arena)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("shared-9");
    }

    @Test
    void retainKeepsTheMemoryOfAClosingArena() {
        DrainingArena arena = DrainingArena.open(registry, "shared-10");
        ArenaLease lease = arena.acquire();
        arena.close();

        ArenaLease part = lease.retain();
        lease.close();

        assertThat(arena.scope().isAlive()).isTrue();
        part.close();
        future(arena.freed()).join();
    }

    @Test
    void closingTwiceThrowsIllegalStateExceptionNamingTheArenaAndChangesNothing() {
        DrainingArena arena = DrainingArena.open(registry, "shared-11");
        ArenaLease lease = arena.acquire();
        arena.close();

        assertThatThrownBy(arena::close)
                .isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("arena 'shared-11' [DYING]: close() on an arena that was already closed");
        assertThat(arena.scope().isAlive()).isTrue();
        lease.close();
        future(arena.freed()).join();
    }

    @Test
    void closeWithoutLeasesFreesTheMemory() {
        DrainingArena arena = DrainingArena.open(registry, "shared-12");
        arena.allocate(1 << 20);

        arena.close();

        future(arena.freed()).join();
        assertThat(arena.scope().isAlive()).isFalse();
    }

    @Test
    void theArenaIsARegisteredResourceInTheSnapshotAndTheMetrics() {
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        new PercpuRefMetrics(registry).bindTo(meters);
        DrainingArena arena = DrainingArena.open(registry, "shared-13");
        ArenaLease lease = arena.acquire();

        assertThat(registry.snapshot()).extracting(RefInfo::name, RefInfo::state, RefInfo::inFlight)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("shared-13", RefState.LIVE, 1L));
        assertThat(meters.get("percpu.refs").tag("state", "live").gauge().value()).isEqualTo(1.0);

        arena.close();

        assertThat(registry.snapshot()).extracting(RefInfo::state).containsExactly(RefState.DYING);
        assertThat(meters.get("percpu.refs").tag("state", "dying").gauge().value()).isEqualTo(1.0);
        lease.close();
        future(arena.freed()).join();
        await().until(() -> registry.snapshot().isEmpty());
        assertThat(meters.get("percpu.refs.releases").functionCounter().count()).isEqualTo(1.0);
    }

    @Test
    void aNameTakenByALiveArenaIsRefused() {
        DrainingArena.open(registry, "taken");

        assertThatThrownBy(() -> DrainingArena.open(registry, "taken"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'taken'");
    }

    @Test
    void aLeaseHeldWhileTheArenaIsClosingMakesItStuckWithItsHolderAndSite() {
        List<RefInfo> stuck = new CopyOnWriteArrayList<>();
        try (RefRegistry paranoid = RefRegistry.builder()
                .name("arena-stuck")
                .leakDetection(LeakDetection.PARANOID)
                .stuckThreshold(Duration.ofMillis(100))
                .shutdownTimeout(Duration.ZERO)
                .build()) {
            paranoid.addListener(new RefListener() {
                @Override
                public void onStuck(RefInfo info) {
                    stuck.add(info);
                }
            });
            DrainingArena arena = DrainingArena.open(paranoid, "stuck-arena");
            ArenaLease held = holdALease(arena);

            arena.close();

            await().atMost(Duration.ofSeconds(10)).until(() -> !stuck.isEmpty());
            assertThat(stuck).extracting(RefInfo::name, RefInfo::state)
                    .containsExactly(org.assertj.core.groups.Tuple.tuple("stuck-arena", RefState.DYING));
            assertThat(paranoid.stuckCount()).isEqualTo(1);
            assertThat(arena.openLeases().holders()).singleElement().satisfies(holder -> {
                assertThat(holder.acquiredBy()).isEqualTo(Thread.currentThread().getName());
                assertThat(holder.acquisitionTrace().getStackTrace())
                        .anySatisfy(frame -> assertThat(frame.getMethodName()).isEqualTo("holdALease"));
            });
            held.close();
            future(arena.freed()).join();
        }
    }

    private static ArenaLease holdALease(DrainingArena arena) {
        return arena.acquire();
    }

    @Test
    void aLeaseLeakedWhileTheArenaIsClosingIsReportedWithItsSiteAndKeepsTheMemory() {
        List<LeakReport> leaks = new CopyOnWriteArrayList<>();
        try (RefRegistry paranoid = RefRegistry.builder()
                .name("arena-leak")
                .leakDetection(LeakDetection.PARANOID)
                .shutdownTimeout(Duration.ZERO)
                .build()) {
            paranoid.addListener(new RefListener() {
                @Override
                public void onLeak(LeakReport report) {
                    leaks.add(report);
                }
            });
            DrainingArena arena = DrainingArena.open(paranoid, "leaky-arena");
            leakALease(arena);

            arena.close();

            await().atMost(Duration.ofSeconds(20)).until(() -> {
                System.gc();
                return !leaks.isEmpty();
            });
            assertThat(leaks).singleElement().satisfies(leak -> {
                assertThat(leak.refName()).isEqualTo("leaky-arena");
                assertThat(leak.reclaimed()).isFalse();
                StackTraceElement[] frames = leak.acquisitionTrace().getStackTrace();
                assertThat(frames[0].getClassName()).isEqualTo(DrainingArena.class.getName());
                assertThat(frames[1].getMethodName()).isEqualTo("leakALease");
            });
            assertThat(arena.state()).isEqualTo(RefState.DYING);
            assertThat(arena.scope().isAlive()).isTrue();
            assertThat(paranoid.shutdown(Duration.ZERO).leakSites("leaky-arena"))
                    .singleElement().satisfies(site -> assertThat(site.count()).isEqualTo(1));
        }
    }

    @Test
    void withReclaimLeaksALeakedLeaseStillLetsTheMemoryBeFreed() {
        try (RefRegistry reclaiming = RefRegistry.builder()
                .name("arena-reclaim")
                .leakDetection(LeakDetection.PARANOID)
                .reclaimLeaks(true)
                .build()) {
            DrainingArena arena = DrainingArena.open(reclaiming, "reclaimed-arena");
            leakALease(arena);

            arena.close();

            await().atMost(Duration.ofSeconds(20)).until(() -> {
                System.gc();
                return future(arena.freed()).isDone();
            });
            assertThat(arena.scope().isAlive()).isFalse();
        }
    }

    private static void leakALease(DrainingArena arena) {
        arena.acquire();
    }

    @Test
    void aJdkSharedArenaClosedAfterOurArenaIsUnaffected() {
        DrainingArena ours = DrainingArena.open(registry, "shared-14");
        try (Arena plain = Arena.ofShared()) {
            MemorySegment theirs = plain.allocate(8);
            ours.close();
            future(ours.freed()).join();
            theirs.set(ValueLayout.JAVA_LONG, 0, 1L);
            assertThat(theirs.get(ValueLayout.JAVA_LONG, 0)).isEqualTo(1L);
        }
    }
}
