package io.percpuref.ffm;

import io.percpuref.ResourceUnavailableException;
import io.percpuref.registry.LeakDetection;
import io.percpuref.registry.RefRegistry;
import io.percpuref.registry.RefState;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Adversarial review of {@link DrainingArena#withLease} (ac26091): a close racing many scoped reads
 * (platform and virtual threads) must never free the memory under a read that was let in, and
 * nested scoped leases must both hold it.
 */
class DrainingArenaScopedAttackTest {

    private final ExecutorService callbacks = Executors.newSingleThreadExecutor(r -> new Thread(r, "arena-callbacks"));
    private final List<RefRegistry> registries = new ArrayList<>();

    private RefRegistry registry(LeakDetection detection) {
        RefRegistry r = RefRegistry.builder().callbackExecutor(callbacks).leakDetection(detection).build();
        registries.add(r);
        return r;
    }

    @AfterEach
    void shutDown() throws InterruptedException {
        registries.forEach(r -> r.shutdown(Duration.ofSeconds(5)));
        callbacks.shutdownNow();
        callbacks.awaitTermination(5, TimeUnit.SECONDS);
    }

    @ParameterizedTest
    @EnumSource(LeakDetection.class)
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void aCloseRacingScopedReadsNeverFreesTheMemoryUnderARead(LeakDetection detection) throws Exception {
        RefRegistry registry = registry(detection);
        for (boolean virtual : new boolean[] {false, true}) {
            for (int round = 0; round < 100; round++) {
                DrainingArena arena = DrainingArena.open(registry, "race-" + virtual + "-" + round);
                MemorySegment segment = arena.allocate(ValueLayout.JAVA_LONG, 64);
                for (int i = 0; i < 64; i++) {
                    segment.setAtIndex(ValueLayout.JAVA_LONG, i, 1L);
                }
                int threads = 3;
                CyclicBarrier start = new CyclicBarrier(threads + 1);
                AtomicLong reads = new AtomicLong();
                AtomicLong refused = new AtomicLong();
                AtomicReference<Throwable> failure = new AtomicReference<>();
                List<Thread> workers = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    Runnable body = () -> {
                        try {
                            start.await();
                            for (int i = 0; i < 300; i++) {
                                try {
                                    long sum = arena.withLease(() -> {
                                        long s = 0;
                                        for (int j = 0; j < 64; j++) {
                                            s += segment.getAtIndex(ValueLayout.JAVA_LONG, j);
                                        }
                                        return s;
                                    });
                                    if (sum != 64) {
                                        throw new AssertionError("read " + sum);
                                    }
                                    reads.incrementAndGet();
                                } catch (ResourceUnavailableException e) {
                                    refused.incrementAndGet();
                                }
                            }
                        } catch (Throwable e) {
                            failure.compareAndSet(null, e);
                        }
                    };
                    workers.add(virtual ? Thread.ofVirtual().start(body) : Thread.ofPlatform().start(body));
                }
                start.await();
                Thread.yield();
                arena.close();
                for (Thread w : workers) {
                    w.join();
                }
                assertThat(failure.get()).as("round %d (virtual=%s): a scoped read failed", round, virtual).isNull();
                assertThat(reads.get() + refused.get()).isEqualTo(threads * 300L);
                arena.freed().toCompletableFuture().get(10, TimeUnit.SECONDS);
                // freed() completes inside the release action, just before the state becomes RELEASED
                await().atMost(Duration.ofSeconds(10)).until(() -> arena.state() == RefState.RELEASED);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(LeakDetection.class)
    void nestedScopedLeasesBothHoldTheMemory(LeakDetection detection) throws Exception {
        DrainingArena arena = DrainingArena.open(registry(detection), "nested");
        MemorySegment segment = arena.allocate(ValueLayout.JAVA_LONG, 1);
        segment.set(ValueLayout.JAVA_LONG, 0, 5L);

        long read = arena.withLease(() -> arena.withLease(() -> {
            arena.close();
            assertThat(arena.openLeases().count()).isEqualTo(2);
            return segment.get(ValueLayout.JAVA_LONG, 0);
        }) + segment.get(ValueLayout.JAVA_LONG, 0));

        assertThat(read).isEqualTo(10L);
        arena.freed().toCompletableFuture().get(5, TimeUnit.SECONDS);
    }
}
