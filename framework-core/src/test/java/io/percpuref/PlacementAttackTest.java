package io.percpuref;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

/** Attacks on stripe placement: tags of threads that have ended, tags lost by a rebuild, keys read off sealed slots. */
class PlacementAttackTest {

    private static PercpuRef ref(String name, int stripes) {
        return PercpuRef.builder().name(name).stripes(stripes).onRelease(r -> { }).build();
    }

    private static long[] table(PercpuRef ref) throws Exception {
        Field f = PercpuRef.class.getDeclaredField("stripes");
        f.setAccessible(true);
        return (long[]) f.get(ref);
    }

    private static int index(long[] s, long id) {
        int n = s.length >>> 4;
        return ((int) (((id & PercpuRef.KEY_BITS) * s[0]) >>> 40) & (n - 1)) * PercpuRef.PAD + PercpuRef.FIRST_STRIPE;
    }

    /**
     * FAILS on f48da9b. replaceTableLocked's comment: "Claims start afresh in the new table, which also
     * frees the stripes of threads that have ended." But newTable pre-claims every key found in the
     * old table, so the tags of threads that have ended are carried into every rebuild; short-lived
     * threads (one per request, a pool that replaces its threads) fill the table at its cap until
     * no multiplier places them apart and it settles for ever. Live threads that arrive afterwards,
     * far fewer than the cap, then share stripes: the StripeTableTest goal (threads with scattered ids
     * share no stripe while the cap has room) no longer holds.
     */
    @Test
    void threadsThatEndedDoNotKeepTheTableFromPlacingLiveOnesApart() throws Exception {
        PercpuRef ref = ref("churn", 64);
        ref.inflate();
        for (int i = 0; i < 120; i++) {                  // short-lived threads, one after another
            Thread t = new Thread(() -> {
                ref.get();
                ref.put();
            });
            t.start();
            t.join();
        }
        long[] afterChurn = table(ref);
        int tagged = 0;
        for (int i = PercpuRef.FIRST_STRIPE; i < afterChurn.length; i += PercpuRef.PAD) {
            tagged += (afterChurn[i] & PercpuRef.LOW_BITS) != 0 ? 1 : 0;
        }
        int endedTags = tagged;
        int threads = 24;                                 // well below the cap (StripeTableTest places 32 apart)
        List<ExecutorService> pool = new ArrayList<>();
        try {
            java.util.Random random = new java.util.Random(threads);
            for (int i = 0; i < threads; i++) {
                for (int gap = random.nextInt(200); gap > 0; gap--) {
                    new Thread(() -> { }).getId();    // takes an id (assigned lazily on some JDKs): scattered ids
                }
                ExecutorService executor = Executors.newSingleThreadExecutor();
                executor.submit(() -> { }).get(10, TimeUnit.SECONDS);   // starts its thread now: its id
                pool.add(executor);
            }
            // warm-up: a settled table is retried once 1 ms old, by one in 64 of the gets that find
            // another thread's tag (at random), so each round makes 64 gets per thread
            for (int round = 0; round < 10; round++) {
                Thread.sleep(2);
                for (ExecutorService executor : pool) {
                    executor.submit(() -> {
                        for (int k = 0; k < 64; k++) {
                            ref.get();
                            ref.put();
                        }
                    }).get(10, TimeUnit.SECONDS);
                }
            }
            Map<Integer, Integer> threadsPerStripe = new HashMap<>();
            for (ExecutorService executor : pool) {
                threadsPerStripe.merge(executor.submit(ref::stripeOffset).get(10, TimeUnit.SECONDS), 1, Integer::sum);
            }
            int sharing = threadsPerStripe.values().stream().filter(n -> n > 1).mapToInt(n -> n).sum();
            long[] s = table(ref);
            assertThat(sharing).as("live threads sharing a stripe, of %d (table of %d stripes, rebuild budget %d;"
                    + " %d stripes tagged by ended threads before they came)", threads, ref.tableStripes(), s[1], endedTags)
                    .isZero();
            assertThat(ref.approximateCount()).isEqualTo(1);
        } finally {
            pool.forEach(ExecutorService::shutdownNow);
        }
    }

    /**
     * FAILS on f48da9b. newTable pre-claims each known key's stripe ("known threads keep their
     * claims"), then replaceTableLocked writes {@code fresh[FIRST_STRIPE] = units}, overwriting the tag on the
     * first stripe: the thread placed there has lost its claim (a thread arriving before it takes
     * it, and a rebuild before its next get forgets its key).
     */
    @Test
    void aRebuildKeepsTheClaimOfTheThreadPlacedOnTheFirstStripe() throws Exception {
        List<ExecutorService> pool = new ArrayList<>();
        try {
            while ((new Thread(() -> { }).getId() + 1) % 64 != 0) {
                Thread.onSpinWait();                    // the first pool thread's key is 0 mod 64: stripe 0 by key mod n
            }
            for (int i = 0; i < 8; i++) {
                ExecutorService executor = Executors.newSingleThreadExecutor();
                executor.submit(() -> { }).get(10, TimeUnit.SECONDS);
                pool.add(executor);
            }
            List<Long> ids = new ArrayList<>();
            for (ExecutorService executor : pool) {
                ids.add(executor.submit(() -> Thread.currentThread().getId()).get(10, TimeUnit.SECONDS));
            }
            for (int attempt = 0; attempt < 200; attempt++) {
                PercpuRef ref = ref("tags-" + attempt, 64);
                ref.inflate();
                long[] before;
                int rounds = 0;
                do {                                    // until a round changes no table: every claim confirmed
                    before = table(ref);
                    for (ExecutorService executor : pool) {
                        executor.submit(() -> {
                            ref.get();                  // claims or confirms, or rebuilds on a collision
                        }).get(10, TimeUnit.SECONDS);
                    }
                } while (table(ref) != before && ++rounds < 20);
                ref.growForTest();                      // doubles the table: every known key pre-claimed
                long[] s = table(ref);
                for (long id : ids) {
                    if (index(s, id) == PercpuRef.FIRST_STRIPE) {
                        assertThat(s[PercpuRef.FIRST_STRIPE] & PercpuRef.LOW_BITS)
                                .as("low bits of the first stripe, where key %d was placed", id & PercpuRef.KEY_BITS)
                                .isEqualTo((id & PercpuRef.KEY_BITS) << 1);   // carried unconfirmed
                        return;
                    }
                }
            }
            throw new AssertionError("no key ever placed on the first stripe");
        } finally {
            pool.forEach(ExecutorService::shutdownNow);
        }
    }

    /**
     * FAILS on f48da9b. keyOf's contract: "The key of the thread that claimed a slot ... (0 if unclaimed)",
     * and knownKeys treats any non-negative result as a claiming thread. A sealed slot (low bits 1)
     * yields key 0, so a table scanned while sealed (a switch in progress that is undone before the
     * rebuild takes the lock) gets a phantom thread 0 pre-claimed in every later table.
     */
    @Test
    void aSealedSlotHasNoOwner() throws Exception {
        Method keyOf = PercpuRef.class.getDeclaredMethod("keyOf", long.class, boolean.class);
        keyOf.setAccessible(true);
        assertThat((int) keyOf.invoke(null, PercpuRef.SEALED, true)).as("keyOf(SEALED)").isNegative();
        assertThat((int) keyOf.invoke(null, PercpuRef.SEALED + (5L << PercpuRef.UNIT_SHIFT), true))
                .as("keyOf(sealed garbage)").isNegative();
    }
}
