package io.percpuref.ffm;

import io.percpuref.ResourceUnavailableException;
import io.percpuref.registry.RefRegistry;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Readers on several threads while arenas are closed and replaced under them, bounded in time
 * ({@code percpuref.stress.seconds}, default 2). Guarded readers lease the current arena and verify
 * every byte of its segment; unguarded readers keep reading a segment of an arena that is being
 * closed, without a lease, to prove that what they get is the right bytes or the JDK's
 * {@link IllegalStateException}: never a crash, never other bytes. A refused lease
 * ({@link ResourceUnavailableException}) is the only other outcome allowed.
 */
class ArenaReplacementStressTest {

    private static final int SIZE = 16 * 1024;
    private static final int GUARDED_READERS = 2;
    private static final int UNGUARDED_READERS = 1;

    /** One published arena and the segment filled for its generation. */
    private record Generation(long number, DrainingArena arena, MemorySegment segment) {
    }

    private static byte expected(long generation, long offset) {
        return (byte) (generation * 131 + offset * 7);
    }

    private static Generation open(RefRegistry registry, long number) {
        DrainingArena arena = DrainingArena.open(registry, "stress-" + number);
        MemorySegment segment = arena.allocate(SIZE, 8);
        for (int i = 0; i < SIZE; i++) {
            segment.set(ValueLayout.JAVA_BYTE, i, expected(number, i));
        }
        return new Generation(number, arena, segment);
    }

    @Test
    void readersSeeEveryByteRightOrTheJdksExceptionWhileArenasAreClosedAndReplaced() throws Exception {
        long seconds = Long.getLong("percpuref.stress.seconds", 2);
        Queue<Throwable> unexpected = new ConcurrentLinkedQueue<>();
        LongAdder guardedReads = new LongAdder();
        LongAdder refused = new LongAdder();
        LongAdder unguardedReads = new LongAdder();
        LongAdder unguardedClosed = new LongAdder();
        LongAdder bytesVerified = new LongAdder();
        AtomicBoolean stop = new AtomicBoolean();
        List<CompletableFuture<Void>> freed = new ArrayList<>();
        List<DrainingArena> closed = new ArrayList<>();

        try (RefRegistry registry = RefRegistry.builder().name("arena-stress").build()) {
            AtomicReference<Generation> current = new AtomicReference<>(open(registry, 0));
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < GUARDED_READERS; t++) {
                threads.add(Thread.ofPlatform().name("guarded-" + t).unstarted(() -> {
                    while (!stop.get()) {
                        Generation g = current.get();
                        try (ArenaLease lease = g.arena().acquire()) {
                            verify(g, SIZE);
                            guardedReads.increment();
                            bytesVerified.add(SIZE);
                        } catch (ResourceUnavailableException e) {
                            refused.increment();
                        } catch (Throwable e) {
                            unexpected.add(e);
                        }
                    }
                }));
            }
            for (int t = 0; t < UNGUARDED_READERS; t++) {
                threads.add(Thread.ofPlatform().name("unguarded-" + t).unstarted(() -> {
                    while (!stop.get()) {
                        Generation g = current.get();
                        // No lease: keeps reading this generation until its memory is gone.
                        while (!stop.get()) {
                            try {
                                verify(g, SIZE);
                                unguardedReads.increment();
                            } catch (IllegalStateException e) {
                                unguardedClosed.increment();
                                break;
                            } catch (Throwable e) {
                                unexpected.add(e);
                                break;
                            }
                        }
                    }
                }));
            }
            threads.forEach(Thread::start);

            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            long number = 1;
            while (System.nanoTime() < deadline) {
                Generation next = open(registry, number++);
                Generation previous = current.getAndSet(next);
                previous.arena().close();
                closed.add(previous.arena());
                freed.add(previous.arena().freed().toCompletableFuture());
                Thread.sleep(2);
            }
            stop.set(true);
            for (Thread t : threads) {
                t.join(TimeUnit.SECONDS.toMillis(30));
                assertThat(t.isAlive()).as("%s finished", t.getName()).isFalse();
            }
            current.get().arena().close();
            closed.add(current.get().arena());
            freed.add(current.get().arena().freed().toCompletableFuture());

            CompletableFuture.allOf(freed.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
            assertThat(unexpected).isEmpty();
            assertThat(closed).hasSizeGreaterThan(10).allSatisfy(a -> assertThat(a.scope().isAlive()).isFalse());
            assertThat(guardedReads.sum()).isPositive();
            assertThat(bytesVerified.sum()).isEqualTo(guardedReads.sum() * SIZE);
            assertThat(unguardedReads.sum()).isPositive();
            assertThat(unguardedClosed.sum()).as("unguarded reads that met freed memory").isPositive();
            assertThat(registry.shutdown(Duration.ofSeconds(5)).isClean()).isTrue();
        }
    }

    @Test
    void allocationsRacingCloseEitherSucceedOrAreRefusedNeverTheJdksException() throws Exception {
        long seconds = Long.getLong("percpuref.stress.seconds", 2);
        Queue<Throwable> unexpected = new ConcurrentLinkedQueue<>();
        LongAdder allocated = new LongAdder();
        LongAdder refused = new LongAdder();
        try (RefRegistry registry = RefRegistry.builder().name("arena-alloc-stress").build()) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            for (int round = 0; System.nanoTime() < deadline; round++) {
                DrainingArena arena = DrainingArena.open(registry, "alloc-" + round);
                List<Thread> allocators = new ArrayList<>();
                for (int t = 0; t < 2; t++) {
                    allocators.add(Thread.ofPlatform().start(() -> {
                        while (true) {
                            MemorySegment segment;
                            try {
                                segment = arena.allocate(256, 8); // under a lease: refused, never the JDK's ISE
                                allocated.increment();
                            } catch (ResourceUnavailableException e) {
                                refused.increment();
                                return;
                            } catch (Throwable e) {
                                unexpected.add(e);
                                return;
                            }
                            try {
                                segment.fill((byte) 1); // no lease: the arena may be freed by now
                            } catch (IllegalStateException freedMeanwhile) {
                                return;
                            }
                        }
                    }));
                }
                Thread.onSpinWait();
                arena.close();
                for (Thread t : allocators) {
                    t.join(TimeUnit.SECONDS.toMillis(30));
                    assertThat(t.isAlive()).isFalse();
                }
                arena.freed().toCompletableFuture().get(30, TimeUnit.SECONDS);
            }
        }
        assertThat(unexpected).isEmpty();
        assertThat(allocated.sum()).isPositive();
        assertThat(refused.sum()).isPositive();
    }

    /** Reads every byte of the generation's segment and checks it; throws AssertionError on a wrong one. */
    private static void verify(Generation g, int size) {
        MemorySegment s = g.segment();
        for (int i = 0; i < size; i++) {
            byte b = s.get(ValueLayout.JAVA_BYTE, i);
            if (b != expected(g.number(), i)) {
                throw new AssertionError("generation " + g.number() + " byte " + i + ": " + b + " instead of "
                        + expected(g.number(), i));
            }
        }
    }
}
