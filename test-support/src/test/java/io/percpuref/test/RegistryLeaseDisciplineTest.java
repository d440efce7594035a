package io.percpuref.test;

import io.percpuref.registry.CurrentResource;
import io.percpuref.registry.Lease;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The registry's own lease paths under {@link PercpuRefExtension}: retries, refusals, fan-out and
 * double closes must leave no lease open, which the extension checks after each test, naming the
 * acquisition site of any lease left behind. (These live here because framework-core's tests
 * cannot depend on this module, which depends on framework-core.)
 */
class RegistryLeaseDisciplineTest {

    @RegisterExtension
    final PercpuRefExtension refs = PercpuRefExtension.freshRegistry();

    @Test
    void acquiresRacingSwapsLeaveNoLeaseOpenAndEverySwappedOutGenerationIsReleased() throws Exception {
        RefRegistry registry = refs.registry();
        AtomicInteger closed = new AtomicInteger();
        CurrentResource<Integer> current = registry.current("searcher", 1, generation -> closed.incrementAndGet());
        AtomicBoolean stop = new AtomicBoolean();
        ExecutorService readers = Executors.newFixedThreadPool(2);
        try {
            List<Future<Long>> reads = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                reads.add(readers.submit(() -> {
                    long n = 0;
                    while (!stop.get()) {
                        try (Lease<Integer> lease = current.acquire()) {
                            n += lease.resource() > 0 ? 1 : 0;
                        }
                    }
                    return n;
                }));
            }
            List<CompletionStage<Void>> swappedOut = new ArrayList<>();
            for (int g = 2; g <= 50; g++) {
                swappedOut.add(current.swap(g));
            }
            stop.set(true);
            for (Future<Long> r : reads) {
                assertThat(r.get(10, TimeUnit.SECONDS)).isPositive();
            }
            CompletableFuture.allOf(swappedOut.stream().map(CompletionStage::toCompletableFuture)
                    .toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
        } finally {
            readers.shutdownNow();
        }

        assertThat(closed).hasValue(49);
        PercpuRefAssertions.assertNoOpenLeases(registry);
    }

    @Test
    void refusedAcquiresOnADyingResourceTakeNoLease() {
        ManagedResource<String> channel = refs.registry().register("channel", "db-1", s -> { });
        Lease<String> held = channel.acquire();
        channel.kill();

        for (int i = 0; i < 100; i++) {
            assertThat(channel.tryAcquire()).isEmpty();
        }

        assertThat(channel.openLeases().count()).isEqualTo(1);
        held.close();
        PercpuRefAssertions.awaitReleased(channel, Duration.ofSeconds(10));
    }

    @Test
    void leasesRetainedForAsynchronousPartsAreAllClosedByThem() {
        ManagedResource<String> channel = refs.registry().register("channel", "db-1", s -> { });
        List<CompletableFuture<Void>> parts = new ArrayList<>();
        try (Lease<String> lease = channel.acquire()) {
            for (int i = 0; i < 16; i++) {
                Lease<String> part = lease.retain();
                parts.add(CompletableFuture.runAsync(() -> part.resource().length()).whenComplete((v, e) -> part.close()));
            }
        }
        CompletableFuture.allOf(parts.toArray(new CompletableFuture[0])).join();

        channel.kill();
        PercpuRefAssertions.awaitReleased(channel, Duration.ofSeconds(10));
    }

    @Test
    void concurrentDoubleClosesPutEachLeaseOnce() throws Exception {
        ManagedResource<String> channel = refs.registry().register("channel", "db-1", s -> { });
        ExecutorService closers = Executors.newFixedThreadPool(2);
        try {
            for (int i = 0; i < 500; i++) {
                Lease<String> lease = channel.acquire();
                Future<?> a = closers.submit(lease::close);
                Future<?> b = closers.submit(lease::close);
                a.get(10, TimeUnit.SECONDS);
                b.get(10, TimeUnit.SECONDS);
            }
        } finally {
            closers.shutdownNow();
        }

        PercpuRefAssertions.assertNoOpenLeases(channel);
        channel.kill();
        PercpuRefAssertions.awaitReleased(channel, Duration.ofSeconds(10));
    }
}
