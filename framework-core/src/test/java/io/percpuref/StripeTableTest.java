package io.percpuref;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The stripe table: a thread that collides moves, the table starts at 2 stripes and doubles only
 * when a collision persists after moving, up to the configured stripes, and no growth loses a
 * count. The collision hook {@link PercpuRef#collided(int)} runs exactly what the fast path runs
 * after its n-th lost CAS in one operation, so the policy is tested deterministically; one test
 * lets two real threads collide.
 */
class StripeTableTest {

    private final AtomicInteger releases = new AtomicInteger();
    private final List<PercpuRefException> reported = new CopyOnWriteArrayList<>();

    private PercpuRef.Builder builder(String name) {
        return PercpuRef.builder()
                .name(name)
                .onRelease(r -> releases.incrementAndGet())
                .errorReporter(reported::add);
    }

    @Test
    void aThreadThatLosesACasMovesToAnotherStripeAndTheTableKeepsItsSize() {
        PercpuRef ref = builder("moves").stripes(8).build();
        ref.inflate();
        assertThat(ref.stripesInUse()).as("a first table has 2 stripes").isEqualTo(2);

        for (int i = 0; i < 10; i++) {
            int before = ref.stripeOffset();
            ref.collided(1);
            assertThat(ref.stripeOffset()).as("after collision %d", i).isNotEqualTo(before);
        }
        assertThat(ref.stripesInUse()).as("single collisions do not grow the table").isEqualTo(2);
    }

    @Test
    void theTableDoublesOnlyWhenACollisionPersistsAfterMovingAndStopsAtTheCap() {
        PercpuRef ref = builder("grows").stripes(16).build();
        ref.inflate();
        List<Integer> sizes = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            ref.collided(2);
            sizes.add(ref.stripesInUse());
        }

        assertThat(sizes).containsExactly(4, 8, 16, 16, 16);
        ref.get();
        ref.put();
        assertThat(ref.approximateCount()).isEqualTo(1);
        ref.kill();
        assertThat(releases).hasValue(1);
        assertThat(reported).isEmpty();
    }

    @Test
    void aRefBuiltWithOneStripeNeitherGrowsNorMovesItsThreads() {
        PercpuRef ref = builder("one").stripes(1).build();
        ref.inflate();
        ref.collided(1);
        ref.collided(2);

        assertThat(ref.stripesInUse()).isEqualTo(1);
        assertThat(ref.stripeOffset()).isEqualTo(PercpuRef.SLOT0);
    }

    @Test
    void atTwoStripesTheDefaultTableOfATwoThreadRefStaysWithinItsMemoryBudget() {
        PercpuRef ref = builder("two").build();
        ref.inflate();
        ref.collided(1);

        assertThat(ref.stripesInUse()).isEqualTo(Math.min(2, ref.stripeCount()));
    }

    @Test
    void growthIsRefusedInAtomicModeAndResumesInPercpuMode() {
        PercpuRef ref = builder("atomic-growth").stripes(8).allowReinit().build();
        ref.inflate();
        ref.switchToAtomicSync();
        ref.collided(2);
        assertThat(ref.stripesInUse()).as("a sealed table is never replaced").isEqualTo(2);
        ref.get();

        ref.switchToPercpu();
        ref.collided(2);
        ref.put();

        assertThat(ref.stripesInUse()).isEqualTo(4);
        assertThat(ref.approximateCount()).isEqualTo(1);
        ref.kill();
        assertThat(releases).hasValue(1);
    }

    /**
     * References taken on eight threads' stripes, the table grown from 2 to 64 stripes underneath
     * them, then every reference put from another thread (another stripe of the new table): the
     * count is exact at every step and the kill releases once.
     */
    @Test
    @Timeout(60)
    void growingKeepsEveryReferenceWhereverItWasTaken() throws Exception {
        PercpuRef ref = builder("grown").stripes(64).build();
        ref.inflate();
        int threads = 8;
        long expected = 1;
        for (int t = 0; t < threads; t++) {
            long n = t + 1;
            onNewThread(() -> ref.get(n));
            expected += n;
        }
        assertThat(ref.approximateCount()).isEqualTo(expected);

        for (int i = 0; i < 5; i++) {
            ref.collided(2);
            assertThat(ref.approximateCount()).as("after growing to %d stripes", ref.stripesInUse())
                    .isEqualTo(expected);
        }
        assertThat(ref.stripesInUse()).isEqualTo(64);
        for (int t = 0; t < threads; t++) {
            long n = threads - t;
            onNewThread(() -> ref.put(n));
        }

        assertThat(ref.approximateCount()).isEqualTo(1);
        ref.kill();
        assertThat(releases).hasValue(1);
        assertThat(reported).isEmpty();
    }

    /**
     * The measurement of the benchmark issue: N threads with scattered thread ids (other threads
     * created between them), each counting on a ref whose table is at 64 stripes. Thread ids no
     * longer choose stripes; threads are numbered when they first count on a table, and N
     * consecutive numbers select N different stripes. Target: under 5 % of the threads share a
     * stripe (before this change, 33 to 39 % at 4 to 32 threads).
     */
    @ParameterizedTest
    @ValueSource(ints = {4, 8, 16, 32})
    @Timeout(60)
    void threadsWithScatteredIdsRarelyShareAStripe(int threads) throws Exception {
        PercpuRef ref = builder("scattered").stripes(64).build();
        ref.inflate();
        while (ref.stripesInUse() < 64) {
            ref.collided(2);
        }
        Random random = new Random(threads);
        List<Long> ids = new ArrayList<>();
        List<Integer> offsets = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            for (int gap = random.nextInt(50); gap > 0; gap--) {
                onNewThread(() -> { }); // burns thread ids
            }
            AtomicReference<Long> id = new AtomicReference<>();
            offsets.add(onNewThread(() -> {
                id.set(Thread.currentThread().getId());
                ref.get();
                ref.put();
                return ref.stripeOffset();
            }));
            ids.add(id.get());
        }

        Map<Integer, Integer> perStripe = new HashMap<>();
        offsets.forEach(o -> perStripe.merge(o, 1, Integer::sum));
        long sharing = offsets.stream().filter(o -> perStripe.get(o) > 1).count();
        assertThat(ids).as("the ids are scattered").doesNotHaveDuplicates()
                .satisfies(l -> assertThat(l.get(l.size() - 1) - l.get(0)).isGreaterThan(2L * threads));
        assertThat((double) sharing / threads).as("fraction of %d threads sharing a stripe: %s", threads, offsets)
                .isLessThan(0.05);
        assertThat(ref.approximateCount()).isEqualTo(1);
    }

    /**
     * Two real threads start on the same stripe of a 2-stripe table (one is moved there) and count
     * concurrently: the first lost CAS moves one of them, after which they stay apart. Bounded by
     * time only in case the machine never runs them at once.
     */
    @Test
    @Timeout(60)
    void twoThreadsThatStartOnOneStripeEndUpOnDifferentStripes() throws Exception {
        PercpuRef ref = builder("collide").stripes(2).build();
        ref.inflate();
        CyclicBarrier placed = new CyclicBarrier(2);
        AtomicInteger[] offsets = {new AtomicInteger(), new AtomicInteger()};
        AtomicBoolean apart = new AtomicBoolean();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 2; t++) {
            int me = t;
            threads.add(new Thread(() -> {
                try {
                    offsets[me].set(ref.stripeOffset());
                    placed.await();
                    if (me == 1 && ref.stripeOffset() != offsets[0].get()) {
                        ref.collided(1); // with 2 stripes, "another stripe" is thread 0's
                    }
                    offsets[me].set(ref.stripeOffset());
                    placed.await();
                    assertThat(offsets[0].get()).as("placed on one stripe").isEqualTo(offsets[1].get());
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                    while (!apart.get() && System.nanoTime() < deadline) {
                        for (int i = 0; i < 10_000; i++) {
                            ref.get();
                            ref.put();
                        }
                        offsets[me].set(ref.stripeOffset());
                        if (offsets[0].get() != offsets[1].get()) {
                            apart.set(true);
                        }
                    }
                } catch (Throwable e) {
                    failure.set(e);
                }
            }));
        }
        threads.forEach(Thread::start);
        for (Thread t : threads) {
            t.join();
        }

        assertThat(failure).hasValue(null);
        assertThat(apart).as("the colliding threads moved apart").isTrue();
        assertThat(ref.approximateCount()).isEqualTo(1);
        ref.kill();
        assertThat(releases).hasValue(1);
    }

    private static void onNewThread(Runnable task) throws InterruptedException {
        onNewThread(() -> {
            task.run();
            return null;
        });
    }

    private static <T> T onNewThread(java.util.function.Supplier<T> task) throws InterruptedException {
        AtomicReference<T> result = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread thread = new Thread(() -> {
            try {
                result.set(task.get());
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        thread.start();
        thread.join();
        assertThat(failure).hasValue(null);
        return result.get();
    }
}
