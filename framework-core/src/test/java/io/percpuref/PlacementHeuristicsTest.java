package io.percpuref;

import static io.percpuref.PercpuRef.BUILT;
import static io.percpuref.PercpuRef.FAILED_SEARCHES;
import static io.percpuref.PercpuRef.FIRST_STRIPE;
import static io.percpuref.PercpuRef.KEY_BITS;
import static io.percpuref.PercpuRef.KEY_MOD;
import static io.percpuref.PercpuRef.LOW_BITS;
import static io.percpuref.PercpuRef.MARK;
import static io.percpuref.PercpuRef.MAX_BACKOFF;
import static io.percpuref.PercpuRef.MAX_FAILED_SEARCHES;
import static io.percpuref.PercpuRef.PAD;
import static io.percpuref.PercpuRef.REBUILDS;
import static io.percpuref.PercpuRef.REBUILDS_PER_SIZE;
import static io.percpuref.PercpuRef.SEALED;
import static io.percpuref.PercpuRef.UNIT_SHIFT;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/**
 * The placement heuristics of the stripe table, step by step, on tables built by hand and keys
 * chosen by the test (docs/semantics.md, "Memory per ref and striping"): a rebuild spends the
 * table's budget at its size, then doubles it; more threads than stripes grow it up to the cap; at
 * the cap it searches a bounded number of times, then spreads the threads and settles; a settled
 * table is retried after a back-off of 1 ms doubling to about a second, dropping the claims of
 * threads that have not counted since; claims carried into a new table count only while it is
 * young. Each rebuild keeps the count. The mutation profile found most of these branches
 * surviving or without coverage (PIT, 2026-12-08): the threaded tests only see their net effect.
 */
class PlacementHeuristicsTest {

    /** Keys all odd: the key-mod multiplier puts them on one stripe of a table of two, so placing them needs a search. */
    private static final int K1 = 5;
    private static final int K2 = 7;
    private static final int K3 = 9;
    private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);

    // ---- back-off and youth ------------------------------------------------------------------

    @Test
    void aSettledTableIsDueAfterOneMillisecondDoubledAtEachFruitlessRetryUpToAboutASecond() {
        long[] first = table(2, -1);                       // settled once: 1 ms
        first[BUILT] = System.nanoTime() - 3 * MS;
        assertThat(PercpuRef.backOffExpired(first)).isTrue();
        first[BUILT] = System.nanoTime() + 10_000 * MS;   // built "in the future": never due
        assertThat(PercpuRef.backOffExpired(first)).isFalse();

        long[] third = table(2, -3);                       // two fruitless retries: 4 ms
        third[BUILT] = System.nanoTime() - 6 * MS;
        assertThat(PercpuRef.backOffExpired(third)).isTrue();

        long[] capped = table(2, -1 - MAX_BACKOFF - 5);    // the doubling stops at 2^10 ms
        capped[BUILT] = System.nanoTime() - 500 * MS;
        assertThat(PercpuRef.backOffExpired(capped)).isFalse();
        capped[BUILT] = System.nanoTime() - 1_100 * MS;
        assertThat(PercpuRef.backOffExpired(capped)).isTrue();
    }

    @Test
    void unconfirmedClaimsCountOnlyWhileTheirTableIsYoungerThanAMillisecond() {
        long[] s = table(2, REBUILDS_PER_SIZE);
        s[BUILT] = System.nanoTime() + 10_000 * MS;
        assertThat(PercpuRef.young(s)).isTrue();
        s[BUILT] = System.nanoTime() - 2 * MS;
        assertThat(PercpuRef.young(s)).isFalse();
    }

    // ---- known keys -----------------------------------------------------------------------------

    @Test
    void knownKeysAreTheCallerThenEachClaimOnceSealedSlotsAndUnconfirmedClaimsAsAsked() {
        long[] s = table(8, REBUILDS_PER_SIZE,
                confirmed(K1), unconfirmed(K2), SEALED | confirmed(K3), confirmed(0), confirmed(K1), 0L, units(3) | confirmed(11));

        assertThat(PercpuRef.knownKeys(s, 3, false)).containsExactly(3, K1, 0, 11);
        assertThat(PercpuRef.knownKeys(s, 3, true)).containsExactly(3, K1, K2, 0, 11);
        assertThat(PercpuRef.knownKeys(s, K1, false)).containsExactly(K1, 0, 11);  // the caller once
        assertThat(PercpuRef.knownKeys(s, -1, false)).containsExactly(K1, 0, 11);  // none: K1's two claims once
        assertThat(PercpuRef.knownKeys(s, 0, false)).containsExactly(0, K1, 11);   // key 0 is a key
    }

    // ---- what a settled table's retry may gain ---------------------------------------------------

    @Test
    void aSettledTableGainsWhenItsThreadsNowFitApart() {
        long[] s = table(4, -2, confirmed(K1), confirmed(K2));
        long built = s[BUILT];
        assertThat(PercpuRef.settledGain(s, new int[] {K3, K1, K2}, 4)).isEqualTo(1);
        assertThat(PercpuRef.settledGain(s, new int[] {4, 5}, 2)).isEqualTo(1);  // key mod n places these
        assertThat(PercpuRef.settledGain(s, new int[] {K1, K2}, 2)).isEqualTo(1); // as many keys as stripes
        assertThat(s[REBUILDS]).isEqualTo(-2);
        assertThat(s[BUILT]).isEqualTo(built);
        assertThat(s[FIRST_STRIPE] & LOW_BITS).isEqualTo(confirmed(K1));
    }

    @Test
    void aSettledTableWithStaleClaimsGainsTheirRemovalAndIsLeftAsItIs() {
        long[] s = table(2, -2, confirmed(K1), unconfirmed(K2));
        long built = s[BUILT];
        assertThat(PercpuRef.settledGain(s, new int[] {K3, K1, K2}, 2)).isZero();
        assertThat(s[REBUILDS]).isEqualTo(-2);
        assertThat(s[BUILT]).isEqualTo(built);
        assertThat(s[FIRST_STRIPE] & LOW_BITS).isEqualTo(confirmed(K1));
    }

    @Test
    void aFruitlessRetryUnconfirmsTheClaimsInPlaceKeepsTheCountsAndDoublesTheBackOff() {
        long[] s = table(4, -2, units(7) | confirmed(K1), units(-3) | confirmed(K2), SEALED | MARK, 0L);
        s[BUILT] = 0;
        long before = System.nanoTime();
        assertThat(PercpuRef.settledGain(s, new int[] {K3, K1, K2, 11, 13}, 4)).isEqualTo(-1);

        assertThat(stripe(s, 0)).isEqualTo(units(7) | unconfirmed(K1));
        assertThat(stripe(s, 1)).isEqualTo(units(-3) | unconfirmed(K2));
        assertThat(stripe(s, 2)).isEqualTo(SEALED | MARK);                   // a sealed slot is nobody's claim
        assertThat(stripe(s, 3)).isZero();
        assertThat(s[REBUILDS]).isEqualTo(-3);
        assertThat(s[BUILT]).isGreaterThanOrEqualTo(before);
        // the next retry finds the claims stale, unless their threads counted (and confirmed) since
        assertThat(PercpuRef.settledGain(s, new int[] {K3, K1, K2, 11, 13}, 4)).isZero();
    }

    @Test
    void aSealedSlotIsNotAStaleClaimAndTheBackOffStopsDoubling() {
        long[] s = table(2, -1 - MAX_BACKOFF, confirmed(K1), SEALED);
        assertThat(PercpuRef.settledGain(s, new int[] {K3, K1, K2}, 2)).isEqualTo(-1);
        assertThat(s[REBUILDS]).isEqualTo(-1 - MAX_BACKOFF);
    }

    // ---- inflation -------------------------------------------------------------------------------

    @Test
    void inflationPlacesTheInflatingThreadAndBasesOwnerApart() {
        PercpuRef ref = ref(64);
        ref.get();                                                  // this thread now owns base
        int owner = (int) PercpuRef.currentThreadId() & KEY_BITS;
        int other = owner ^ 2;                                      // same low bit: key mod 2 would collide
        long[] t = ref.inflate(other);

        assertThat(t.length / PAD).isEqualTo(PercpuRef.FIRST_TABLE);
        assertThat(PercpuRef.stripeIndex(t, other)).isNotEqualTo(PercpuRef.stripeIndex(t, owner));
        assertThat(t[PercpuRef.stripeIndex(t, other)] & LOW_BITS).isEqualTo(unconfirmed(other));
        assertThat(t[PercpuRef.stripeIndex(t, owner)] & LOW_BITS).isEqualTo(unconfirmed(owner));
        assertThat(ref.inflate(owner) == t).as("the same table").isTrue();                 // inflated once; later callers get that table
        assertThat(ref.approximateCount()).isEqualTo(2);
    }

    @Test
    void inflationByBasesOwnerOrBeforeAnyOwnerClaimsOneStripe() {
        PercpuRef fresh = ref(64);
        assertThat(PercpuRef.knownKeys(fresh.inflate(K1), -1, true)).containsExactly(K1);

        PercpuRef owned = ref(64);
        owned.get();
        int owner = (int) PercpuRef.currentThreadId() & KEY_BITS;
        assertThat(PercpuRef.knownKeys(owned.inflate(owner), -1, true)).containsExactly(owner);

        PercpuRef single = ref(1);
        single.get();
        long[] one = single.inflate(owner ^ 2);
        assertThat(one.length / PAD).isEqualTo(1);
        assertThat(one[PercpuRef.MULTIPLIER]).isEqualTo(KEY_MOD);
    }

    // ---- rebuilds --------------------------------------------------------------------------------

    @Test
    void aCollisionRebuildsAtTheSameSizeAndSpendsOneOfTheBudget() {
        PercpuRef ref = installed(64, table(2, REBUILDS_PER_SIZE, confirmed(K1)));
        long[] fresh = placeApart(ref, K2);

        assertTable(fresh, 2, REBUILDS_PER_SIZE - 1);
        assertApart(fresh, K1, K2);
        assertThat(ref.approximateCount()).isEqualTo(1);
        assertThat(ref.atomicPart()).isEqualTo(PercpuRef.BIAS);

        fresh[PercpuRef.stripeIndex(fresh, K1)] |= MARK;              // both threads counted there since
        fresh[PercpuRef.stripeIndex(fresh, K2)] |= MARK;
        long[] next = placeApart(ref, K3);                          // the next collision rebuilds again
        assertApart(next, K1, K2, K3);
        assertThat(ref.approximateCount()).isEqualTo(1);
    }

    @Test
    void aRefWhoseFirstControlOperationIsARebuildMakesItsLock() {
        PercpuRef ref = ref(64);
        ref.inflate(K1);
        long[] fresh = placeApart(ref, K2);
        assertApart(fresh, K1, K2);
        assertThat(ref.approximateCount()).isEqualTo(1);
    }

    /**
     * 32 threads with scattered keys on a table of 32 that no multiplier separates: the search goes
     * on at twice the size (where about one multiplier in 2,300 does), and four times if need be.
     */
    @Test
    void aSizeWhereNoMultiplierPlacesTheThreadsIsSkipped() {
        int[] keys = new Random(7).ints(0, KEY_BITS + 1).distinct().limit(32).toArray();
        assertThat(Arrays.stream(keys).map(key -> key & 31).distinct().count()).isLessThan(32);
        long[] claims = Arrays.stream(keys, 0, 31).mapToLong(PlacementHeuristicsTest::confirmed).toArray();
        PercpuRef ref = installed(128, table(32, REBUILDS_PER_SIZE, claims));
        long[] fresh = placeApart(ref, keys[31]);

        assertThat(fresh.length / PAD).isIn(64, 128);
        assertThat(fresh[REBUILDS]).isEqualTo(REBUILDS_PER_SIZE);
        assertApart(fresh, keys);
        assertThat(ref.approximateCount()).isEqualTo(1);
    }

    @Test
    void aTableWithoutBudgetDoublesAndTheNewSizeHasAFreshBudget() {
        PercpuRef ref = installed(64, table(2, 0, confirmed(K1)));
        long[] fresh = placeApart(ref, K2);

        assertTable(fresh, 4, REBUILDS_PER_SIZE);
        assertApart(fresh, K1, K2);
        assertThat(ref.approximateCount()).isEqualTo(1);
    }

    @Test
    void moreThreadsThanStripesGrowTheTableToHoldThemAll() {
        PercpuRef ref = installed(64, table(2, REBUILDS_PER_SIZE, confirmed(K1), confirmed(K2)));
        long[] fresh = placeApart(ref, K3);

        assertTable(fresh, 4, REBUILDS_PER_SIZE);
        assertApart(fresh, K1, K2, K3);
    }

    @Test
    void atTheCapMoreThreadsThanStripesAreSpreadAndTheTableSettles() {
        PercpuRef ref = installed(2, table(2, REBUILDS_PER_SIZE, confirmed(K1), confirmed(K2)));
        long[] fresh = placeApart(ref, K3);

        assertTable(fresh, 2, -1);
        assertThat(ref.approximateCount()).isEqualTo(1);
    }

    @Test
    void aRefCappedAtOneStripeNeverRebuilds() {
        PercpuRef ref = ref(1);
        long[] t = ref.inflate(K1);
        ref.placeApart(t, K2);
        assertThat(ref.tableForTest() == t).as("table kept").isTrue();
    }

    @Test
    void unconfirmedClaimsAreCarriedOnlyFromAYoungTable() {
        long[] young = table(2, REBUILDS_PER_SIZE, unconfirmed(K1));
        young[BUILT] = System.nanoTime() + 10_000 * MS;
        assertApart(placeApart(installed(64, young), K2), K1, K2);

        long[] old = table(2, REBUILDS_PER_SIZE, unconfirmed(K1));
        old[BUILT] = System.nanoTime() - 10 * MS;
        long[] fresh = placeApart(installed(64, old), K2);
        assertThat(PercpuRef.knownKeys(fresh, -1, true)).containsExactly(K2); // K1's thread may have ended
        assertThat(fresh[REBUILDS]).isEqualTo(REBUILDS_PER_SIZE - 1);

        long[] spent = table(2, 0, unconfirmed(K1));                 // the same with the budget spent
        spent[BUILT] = System.nanoTime() - 10 * MS;
        long[] doubled = placeApart(installed(64, spent), K2);
        assertThat(PercpuRef.knownKeys(doubled, -1, true)).containsExactly(K2);
        assertThat(doubled.length / PAD).isEqualTo(4);
    }

    /**
     * 64 threads with scattered keys on a cap of 64 (two of them equal mod 64, so that key mod n does
     * not place them, and a random multiplier places 64 random keys apart about once in 10^26): the
     * search is repeated at 32 collisions, each leaving the table as it is, and the 33rd spreads them
     * and settles.
     */
    @Test
    void atTheCapAFruitlessSearchIsRepeatedABoundedNumberOfTimesThenTheTableSettles() {
        int[] keys = new Random(42).ints(0, KEY_BITS + 1).distinct().limit(64).toArray();
        assertThat(Arrays.stream(keys).map(key -> key & 63).distinct().count()).isLessThan(64);
        long[] claims = Arrays.stream(keys, 0, 63).mapToLong(PlacementHeuristicsTest::confirmed).toArray();
        long[] s = table(64, 0, claims);
        PercpuRef ref = installed(64, s);
        for (int search = 1; search <= MAX_FAILED_SEARCHES; search++) {
            ref.placeApart(s, keys[63]);
            assertThat(ref.tableForTest() == s).as("table kept after search %d", search).isTrue();
            assertThat(s[FAILED_SEARCHES]).isEqualTo(search);
        }
        ref.placeApart(s, keys[63]);
        long[] settled = ref.tableForTest();
        assertThat(settled == s).as("table replaced").isFalse();
        assertTable(settled, 64, -1);
        assertThat(ref.approximateCount()).isEqualTo(1);
    }

    /**
     * At the cap with its budget spent, a table whose threads a multiplier places apart is rebuilt
     * once more, and the new table is rate-limited as a settled one (1 ms back-off): threads that
     * keep arriving and ending cannot make a ref rebuild at every get.
     */
    @Test
    void atTheCapASpentBudgetStillPlacesTheThreadsApartButRateLimitsTheNextRebuild() {
        PercpuRef ref = installed(2, table(2, 0, confirmed(K1)));
        long[] fresh = placeApart(ref, K2);

        assertTable(fresh, 2, -1);
        assertApart(fresh, K1, K2);
    }

    // ---- retries of a settled table ----------------------------------------------------------------

    @Test
    void aSettledTableIsNotRetriedBeforeItsBackOff() {
        long[] s = table(2, -1, confirmed(K1), confirmed(K2));
        s[BUILT] = System.nanoTime() + 10_000 * MS;
        PercpuRef ref = installed(2, s);
        for (int get = 0; get < 2_000; get++) {
            ref.placeApart(s, K3);
        }
        assertThat(ref.tableForTest() == s).as("table kept").isTrue();
        assertThat(s[REBUILDS]).isEqualTo(-1);
        assertThat(s[FIRST_STRIPE] & LOW_BITS).isEqualTo(confirmed(K1));
    }

    @Test
    void aDueSettledTableFirstUnconfirmsItsClaimsThenDropsThoseNotConfirmedSince() {
        long[] s = table(2, -1, confirmed(K1), confirmed(K2));
        s[BUILT] = System.nanoTime() - 10 * MS;
        PercpuRef ref = installed(2, s);

        // only one get in 64 that finds another's tag looks at the back-off: repeat until one does
        retryUntil(() -> s[REBUILDS] != -1, () -> ref.placeApart(s, K3));
        assertThat(ref.tableForTest() == s).as("nothing to gain yet: not rebuilt").isTrue();
        assertThat(s[REBUILDS]).isEqualTo(-2);
        assertThat(s[FIRST_STRIPE] & LOW_BITS).isEqualTo(unconfirmed(K1));

        s[BUILT] = System.nanoTime() - 10 * MS;                    // 2 ms due; neither thread counted since
        retryUntil(() -> ref.tableForTest() != s, () -> ref.placeApart(s, K3));
        long[] fresh = ref.tableForTest();
        assertThat(PercpuRef.knownKeys(fresh, -1, true)).containsExactly(K3);
        assertTable(fresh, 2, -3); // still settled, its back-off doubled
        assertThat(ref.approximateCount()).isEqualTo(1);
    }

    @Test
    void aDueSettledTableWhoseThreadsNowFitIsRebuiltWithItsBackOffReset() {
        long[] s = table(4, -5, confirmed(K1));
        s[BUILT] = System.nanoTime() - 100 * MS;
        PercpuRef ref = installed(4, s);

        retryUntil(() -> ref.tableForTest() != s, () -> ref.placeApart(s, K2));
        long[] fresh = ref.tableForTest();
        assertTable(fresh, 4, -1);
        assertApart(fresh, K1, K2);
    }

    // ---- helpers ---------------------------------------------------------------------------------

    private static PercpuRef ref(int cap) {
        return PercpuRef.builder().name("placement").stripes(cap).onRelease(r -> { }).build();
    }

    /**
     * A ref with cap {@code cap} whose current table is {@code s}, holding 1 reference: the creator's
     * (on the atomic part, where the switch back from atomic mode left it), which the installing
     * rebuild moves into the table, leaving only the bias behind.
     */
    private static PercpuRef installed(int cap, long[] s) {
        PercpuRef ref = ref(cap);
        ref.get(2);
        ref.switchToAtomicSync();
        ref.put(2);
        ref.switchToPercpu();
        assertThat(ref.atomicPart()).isEqualTo(PercpuRef.BIAS + 1);
        ref.inflate(1);
        ref.replaceTableForTest(s);
        assertThat(ref.tableForTest() == s).as("table installed").isTrue();
        assertThat(ref.atomicPart()).isEqualTo(PercpuRef.BIAS);
        assertThat(ref.approximateCount()).isEqualTo(1);
        return ref;
    }

    /** Thread {@code key} finds another's tag on its stripe: the table the ref has then, asserted new. */
    private static long[] placeApart(PercpuRef ref, int key) {
        long[] s = ref.tableForTest();
        ref.placeApart(s, key);
        assertThat(ref.tableForTest() == s).as("table replaced").isFalse();
        return ref.tableForTest();
    }

    private static void retryUntil(BooleanSupplier done, Runnable get) {
        for (int attempt = 0; attempt < 20_000 && !done.getAsBoolean(); attempt++) {
            get.run();
        }
        assertThat(done.getAsBoolean()).as("a get checked the back-off within 20,000 tries").isTrue();
    }

    /** A table of {@code n} stripes with rebuild budget {@code rebuilds} whose first stripes hold {@code slots}. */
    private static long[] table(int n, long rebuilds, long... slots) {
        long[] s = PercpuRef.newTable(n, KEY_MOD, rebuilds, new int[0]);
        for (int j = 0; j < slots.length; j++) {
            s[FIRST_STRIPE + j * PAD] = slots[j];
        }
        return s;
    }

    private static long stripe(long[] s, int j) {
        return s[FIRST_STRIPE + j * PAD];
    }

    /** Table {@code t} has {@code stripes} stripes and rebuild budget {@code rebuilds} (negative: settled). */
    private static void assertTable(long[] t, int stripes, long rebuilds) {
        assertThat(t.length / PAD).as("stripes").isEqualTo(stripes);
        assertThat(t[REBUILDS]).as("rebuild budget").isEqualTo(rebuilds);
    }

    /** Each key holds a claim, carried unconfirmed, on a stripe of its own. */
    private static void assertApart(long[] s, int... keys) {
        int[] stripes = Arrays.stream(keys).map(key -> PercpuRef.stripeIndex(s, key)).toArray();
        assertThat(stripes).doesNotHaveDuplicates();
        for (int key : keys) {
            assertThat(s[PercpuRef.stripeIndex(s, key)] & LOW_BITS).as("claim of key %d", key).isEqualTo(unconfirmed(key));
        }
    }

    private static long confirmed(int key) {
        return PercpuRef.tag(key);
    }

    private static long unconfirmed(int key) {
        return (long) key << 1;
    }

    private static long units(long references) {
        return references << UNIT_SHIFT;
    }
}
