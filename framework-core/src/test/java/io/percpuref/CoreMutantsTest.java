package io.percpuref;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;
import static org.awaitility.Awaitility.await;

import java.lang.reflect.Field;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledForJreRange;
import org.junit.jupiter.api.condition.JRE;

/**
 * Paths of {@link PercpuRef} that PIT (on e4361cb) found uncovered or unchecked: an add that a
 * switch or a rebuild overtakes between its read of the table and its add, a switch that must
 * seal the table field of a ref that never inflated, a put on a stripe another thread claimed, the
 * placement of two threads on a young table, and {@link PercpuRef#approximateCount()}'s choice
 * between reading optimistically and reading under the control lock.
 *
 * <p>The interleavings are forced, not raced for: on Java 17-18 a ref reads the thread's id with
 * {@code Thread.getId()}, which a subclass may override, right after it has read the stripe table;
 * an override that runs a switch or a rebuild there puts that step exactly between the two reads.
 * A control operation in progress is simulated by holding the ref's control lock (read by
 * reflection: the lock is private, and no public operation holds it across a call into the test).
 */
class CoreMutantsTest {

    private final AtomicInteger releases = new AtomicInteger();

    private PercpuRef ref(String name) {
        return PercpuRef.builder().name(name).stripes(64).onRelease(r -> releases.incrementAndGet()).build();
    }

    // ------------------------------------------------------------------------------------------
    // Adds overtaken by a switch or a rebuild
    // ------------------------------------------------------------------------------------------

    /*
     * Guards: an add to base that a switch sealed after the thread read "not inflated" is not
     * counted there, so the thread counts on the atomic counter (no get is lost).
     */
    @Test
    @EnabledForJreRange(max = JRE.JAVA_18)
    void aGetOnBaseSealedBetweenItsReadOfTheTableAndItsAddCountsOnTheAtomicCounter() throws Exception {
        PercpuRef ref = ref("base-sealed-under-a-get");
        ref.get();
        ref.put(); // this thread owns base: the other thread adds there by load + CAS

        onThreadWhoseIdReadFirstRuns(ref::switchToAtomicSync, ref::get);

        assertThat(ref.mode()).isEqualTo(PercpuRef.Mode.ATOMIC);
        assertThat(ref.approximateCount()).as("the initial reference and the other thread's get").isEqualTo(2);
        ref.put();
        assertThat(releases).hasValue(0);
        ref.put();
        assertThat(releases).hasValue(1);
        assertThat(ref.isZero()).isTrue();
    }

    /*
     * Guards: a get that finds its stripe sealed by a rebuild retries in the table that replaced
     * it, so the per-CPU fast path never falls back to the shared atomic counter because of a
     * rebuild.
     */
    @Test
    @EnabledForJreRange(max = JRE.JAVA_18)
    void aGetWhoseStripeARebuildSealedCountsInTheNewTable() throws Exception {
        PercpuRef ref = ref("rebuilt-under-a-get");
        ref.inflate();
        ref.get();

        onThreadWhoseIdReadFirstRuns(ref::growForTest, ref::get);

        assertThat(ref.tableStripes()).as("the rebuild ran inside the get").isEqualTo(2 * PercpuRef.FIRST_TABLE);
        assertThat(ref.atomicPart()).as("the atomic part holds the bias alone: every reference is in a stripe")
                .isEqualTo(PercpuRef.BIAS);
        assertThat(ref.approximateCount()).isEqualTo(3);
    }

    /*
     * Guards: a switch seals the table field of a ref that never inflated, so that a thread that
     * lost its CAS on base before the switch cannot inflate behind it: its later adds find the
     * sealed marker and count on the atomic counter, and the last put releases.
     */
    @Test
    void aRefSwitchedBeforeInflatingCannotInflateBehindTheSwitch() {
        PercpuRef ref = ref("sealed-before-inflating");
        ref.get();
        ref.kill(); // drops the initial reference: the get above is the last one

        ref.inflate(); // what a thread that lost its CAS on base before the kill does after it

        assertThat(ref.inflated()).isFalse();
        assertThat(ref.tableStripes()).isZero();
        ref.put();
        assertThat(releases).hasValue(1);
        assertThat(ref.isZero()).isTrue();
    }

    // ------------------------------------------------------------------------------------------
    // Placement
    // ------------------------------------------------------------------------------------------

    /*
     * Guards: a put checks the seal only, never the tag, so a thread that only puts on a stripe
     * another thread claimed does not move anyone (a thread is placed by its gets alone).
     */
    @Test
    void aPutOnAStripeAnotherThreadClaimedMovesNoThread() throws Exception {
        PercpuRef ref = ref("put-on-anothers-stripe");
        ref.inflate();
        ref.get(); // claims this thread's stripe
        int mine = ref.stripeOffset();
        ExecutorService other = threadOnStripe(ref, mine);
        try {
            other.submit(() -> ref.put()).get(10, TimeUnit.SECONDS); // drops the reference taken above

            assertThat(other.submit(ref::stripeOffset).get(10, TimeUnit.SECONDS)).isEqualTo(mine);
            assertThat(ref.stripeOffset()).isEqualTo(mine);
            assertThat(ref.tableStripes()).isEqualTo(PercpuRef.FIRST_TABLE);
            assertThat(ref.approximateCount()).isEqualTo(1);
        } finally {
            other.shutdownNow();
        }
    }

    /*
     * Guards: an unclaimed stripe is no thread. Two threads that meet on one stripe of a fresh table
     * of two are placed apart at that size, also while the table is young (its claims count
     * unconfirmed for 1 ms), when the unclaimed stripe must not count as a third thread that would
     * double the table.
     */
    @Test
    void twoThreadsMeetingOnAYoungTableOfTwoArePlacedApartWithoutGrowingIt() throws Exception {
        PercpuRef probe = ref("placement-probe");
        probe.inflate();
        ExecutorService other = threadOnStripe(probe, probe.stripeOffset());
        int youngTrials = 0;
        try {
            for (int trial = 0; trial < 100 && youngTrials < 3; trial++) {
                PercpuRef ref = ref("young-table-" + trial);
                long start = System.nanoTime();
                ref.inflate(); // a table of two, its multiplier placing by key: the same stripes as the probe's
                ref.get();
                other.submit(() -> ref.get()).get(10, TimeUnit.SECONDS); // finds this thread's tag: a rebuild
                boolean young = System.nanoTime() - start < 1_000_000;

                int there = other.submit(ref::stripeOffset).get(10, TimeUnit.SECONDS);
                assertThat(ref.tableStripes()).isEqualTo(PercpuRef.FIRST_TABLE);
                assertThat(there).isNotEqualTo(ref.stripeOffset());
                assertThat(ref.approximateCount()).isEqualTo(3);
                if (young) {
                    youngTrials++;
                }
            }
        } finally {
            other.shutdownNow();
        }
        assumeThat(youngTrials).as("rebuilds within 1 ms of the table's creation").isPositive();
    }

    // ------------------------------------------------------------------------------------------
    // approximateCount: optimistic reads, then the lock
    // ------------------------------------------------------------------------------------------

    /*
     * Guards: approximateCount reads optimistically while no switch is under way: it does not wait
     * for a control operation that holds the ref's lock.
     */
    @Test
    void approximateCountDoesNotWaitForTheControlLockWhenNoSwitchIsUnderWay() throws Exception {
        PercpuRef ref = ref("optimistic-read");
        ref.get();
        ReentrantLock lock = controlLock(ref);
        CompletableFuture<Long> read = new CompletableFuture<>();
        Thread reader = new Thread(() -> read.complete(ref.approximateCount()), "reader");
        lock.lock();
        try {
            reader.start();
            await().atMost(Duration.ofSeconds(30)).until(() -> read.isDone() || lock.hasQueuedThread(reader));

            assertThat(read).as("read while another thread holds the lock").isCompletedWithValue(2L);
        } finally {
            lock.unlock();
        }
        reader.join(10_000);
    }

    /*
     * Guards: once its optimistic tries are spent (none here) approximateCount reads under the lock:
     * it waits for the control operation in progress and sees what it did.
     */
    @Test
    void approximateCountWithoutOptimisticTriesReadsUnderTheLock() throws Exception {
        PercpuRef ref = ref("locked-read");
        ReentrantLock lock = controlLock(ref);
        CompletableFuture<Long> read = new CompletableFuture<>();
        Thread reader = new Thread(() -> read.complete(ref.approximateCount(0)), "reader");
        lock.lock();
        try {
            reader.start();
            await().atMost(Duration.ofSeconds(30)).until(() -> read.isDone() || lock.hasQueuedThread(reader));
            assertThat(read).as("waits for the lock").isNotDone();
            ref.get(); // made while the lock is held: the read under the lock must see it
        } finally {
            lock.unlock();
        }
        assertThat(read.get(10, TimeUnit.SECONDS)).isEqualTo(2);
    }

    // ------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------

    /**
     * Runs {@code action} on a new thread whose first read of its own id ({@code Thread.getId()},
     * which PercpuRef calls on Java 17-18 right after reading the stripe table) runs {@code step}
     * first. Fails unless the step ran.
     */
    private static void onThreadWhoseIdReadFirstRuns(Runnable step, Runnable action) throws Exception {
        AtomicReference<Runnable> pending = new AtomicReference<>();
        CompletableFuture<Void> done = new CompletableFuture<>();
        Thread thread = new Thread(() -> {
            pending.set(step);
            try {
                action.run();
                done.complete(null);
            } catch (Throwable t) {
                done.completeExceptionally(t);
            }
        }, "stepped") {
            @Override
            @SuppressWarnings("deprecation")
            public long getId() {
                Runnable next = pending.getAndSet(null);
                if (next != null) {
                    next.run();
                }
                return super.getId();
            }
        };
        thread.start();
        done.get(10, TimeUnit.SECONDS);
        assertThat(pending.get()).as("the step ran inside the action").isNull();
    }

    /** A single-thread executor whose thread has the stripe at {@code offset} of {@code ref}'s current table. */
    private static ExecutorService threadOnStripe(PercpuRef ref, int offset) throws Exception {
        List<ExecutorService> elsewhere = new ArrayList<>();
        try {
            for (int attempt = 0; attempt < 64; attempt++) {
                ExecutorService candidate = Executors.newSingleThreadExecutor();
                boolean keyZero = candidate.submit(() -> (PercpuRef.currentThreadId() & PercpuRef.KEY_BITS) == 0)
                        .get(10, TimeUnit.SECONDS);
                if (!keyZero && candidate.submit(ref::stripeOffset).get(10, TimeUnit.SECONDS) == offset) {
                    return candidate;
                }
                elsewhere.add(candidate);
            }
            throw new AssertionError("no thread landed on stripe offset " + offset);
        } finally {
            elsewhere.forEach(ExecutorService::shutdownNow);
        }
    }

    /** The ref's control lock, made by a control operation first. */
    private static ReentrantLock controlLock(PercpuRef ref) throws ReflectiveOperationException {
        ref.released(); // makes the lock
        Field control = PercpuRef.class.getDeclaredField("control");
        control.setAccessible(true);
        return (ReentrantLock) control.get(ref);
    }
}
