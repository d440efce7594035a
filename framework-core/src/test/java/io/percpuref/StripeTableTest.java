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

        for (int i = 1; i < PercpuRef.GROW_AFTER_COLLISIONS * 2; i++) {
            int before = ref.stripeOffset();
            ref.collided(1);
            assertThat(ref.stripeOffset()).as("after collision %d", i).isNotEqualTo(before);
        }
        assertThat(ref.stripesInUse()).as("a few single collisions do not grow the table").isEqualTo(2);
    }

    @Test
    void collisionsThatKeepComingBackGrowTheTableAndSendEveryThreadHome() {
        PercpuRef ref = builder("recurring").stripes(8).build();
        ref.inflate();
        int home = ref.stripeOffset();
        for (int i = 1; i < PercpuRef.GROW_AFTER_COLLISIONS * 2; i++) {
            ref.collided(1);
        }
        assertThat(ref.stripesInUse()).isEqualTo(2);

        ref.collided(1);

        assertThat(ref.stripesInUse()).as("4 x 2 collisions on 2 stripes").isEqualTo(4);
        int k = (home - PercpuRef.SLOT0) / PercpuRef.PAD; // home stripe k of 2 is stripe 2k or 2k + 1 of 4
        assertThat(ref.stripeOffset()).as("back on the home stripe of the bigger table")
                .isIn(PercpuRef.SLOT0 + 2 * k * PercpuRef.PAD, PercpuRef.SLOT0 + (2 * k + 1) * PercpuRef.PAD);
        for (int i = 1; i < PercpuRef.GROW_AFTER_COLLISIONS * 4; i++) {
            ref.collided(1);
        }
        assertThat(ref.stripesInUse()).as("the count starts again at each size").isEqualTo(4);
        ref.collided(1);
        assertThat(ref.stripesInUse()).isEqualTo(8);
        assertThat(ref.approximateCount()).isEqualTo(1);
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
     * Threads created one after another have consecutive ids, which the Fibonacci hash spreads over
     * distinct stripes: none of 4 to 32 such threads share a stripe of a 64-stripe table.
     */
    @ParameterizedTest
    @ValueSource(ints = {4, 8, 16, 32})
    @Timeout(60)
    void threadsCreatedTogetherDoNotShareAStripe(int threads) throws Exception {
        PercpuRef ref = tableOf64("together");
        List<Integer> offsets = new CopyOnWriteArrayList<>();
        List<Thread> created = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            created.add(new Thread(() -> {
                ref.get();
                ref.put();
                offsets.add(ref.stripeOffset());
            }));
        }
        for (Thread t : created) {
            t.start();
            t.join();
        }

        assertThat(sharingFraction(offsets)).as("fraction of %d threads sharing a stripe: %s", threads, offsets)
                .isLessThan(0.05);
    }

    /**
     * The measurement of the benchmark issue: threads with scattered ids (up to 50 other threads
     * created between two of them) hash like random ids, so some share a stripe at first (25 to 39 %
     * at 4 to 32 threads before this change, where nothing ever moved them). Here each thread that
     * shares a stripe with a thread counting at the same time loses a CAS to it, as it would on a
     * machine with a core per thread, and moves: after that warm-up under 5 % share a stripe, and
     * no thread that never collided has moved.
     */
    @ParameterizedTest
    @ValueSource(ints = {4, 8, 16, 32})
    @Timeout(60)
    void threadsWithScatteredIdsThatCollideStopSharingAStripe(int threads) throws Exception {
        PercpuRef ref = tableOf64("scattered");
        Random random = new Random(threads);
        List<Long> ids = new ArrayList<>();
        List<Integer> offsets = new ArrayList<>();
        AtomicInteger collisions = new AtomicInteger();
        AtomicInteger movedWithoutColliding = new AtomicInteger();
        for (int t = 0; t < threads; t++) {
            for (int gap = random.nextInt(50); gap > 0; gap--) {
                onNewThread(() -> { }); // burns thread ids
            }
            AtomicReference<Long> id = new AtomicReference<>();
            offsets.add(onNewThread(() -> {
                id.set(Thread.currentThread().getId());
                ref.get();
                ref.put();
                int home = ref.stripeOffset();
                int here = home;
                for (int i = 0; i < 100 && offsets.contains(here); i++) {
                    ref.collided(1); // the CAS this thread loses to the one counting on its stripe
                    collisions.incrementAndGet();
                    here = ref.stripeOffset();
                }
                if (here != home && !offsets.contains(home)) {
                    movedWithoutColliding.incrementAndGet();
                }
                return here;
            }));
            ids.add(id.get());
        }

        assertThat(ids).as("the ids are scattered").doesNotHaveDuplicates()
                .satisfies(l -> assertThat(l.get(l.size() - 1) - l.get(0)).isGreaterThan(2L * threads));
        assertThat(sharingFraction(offsets)).as("fraction of %d threads sharing a stripe after %d collisions: %s",
                threads, collisions.get(), offsets).isLessThan(0.05);
        assertThat(movedWithoutColliding).hasValue(0);
        assertThat(ref.approximateCount()).isEqualTo(1);
    }

    private PercpuRef tableOf64(String name) {
        PercpuRef ref = builder(name).stripes(64).build();
        ref.inflate();
        while (ref.stripesInUse() < 64) {
            ref.collided(2);
        }
        return ref;
    }

    private static double sharingFraction(List<Integer> offsets) {
        Map<Integer, Integer> perStripe = new HashMap<>();
        offsets.forEach(o -> perStripe.merge(o, 1, Integer::sum));
        return (double) offsets.stream().filter(o -> perStripe.get(o) > 1).count() / offsets.size();
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
