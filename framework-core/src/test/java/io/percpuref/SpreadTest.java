package io.percpuref;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * More threads than the cap: the known threads are spread as evenly as a multiplier can, so that
 * the fewest pairs of them share a stripe (docs/semantics.md, "Memory per ref and striping"). The
 * mutation profile found this path without coverage (PIT, 2026-12-08).
 */
class SpreadTest {

    @Test
    void theFewestPairsAreThoseOfLoadsWithinOneOfEachOther() {
        assertThat(PercpuRef.minimumPairs(2, 4)).isZero();    // fewer keys than stripes
        assertThat(PercpuRef.minimumPairs(64, 64)).isZero();
        assertThat(PercpuRef.minimumPairs(3, 2)).isEqualTo(1); // 2 + 1
        assertThat(PercpuRef.minimumPairs(4, 2)).isEqualTo(2); // 2 + 2
        assertThat(PercpuRef.minimumPairs(6, 2)).isEqualTo(6); // 3 + 3
        assertThat(PercpuRef.minimumPairs(5, 4)).isEqualTo(1); // 2 + 1 + 1 + 1
        assertThat(PercpuRef.minimumPairs(7, 3)).isEqualTo(5); // 3 + 2 + 2
        assertThat(PercpuRef.minimumPairs(9, 4)).isEqualTo(6); // 3 + 2 + 2 + 2
    }

    @Test
    void sharingPairsCountsEveryPairOnOneStripe() {
        int[] load = new int[4];
        // key mod n: 0, 4, 8 on stripe 0 (3 pairs), 1 and 5 on stripe 1 (1 pair), 2 alone
        assertThat(PercpuRef.sharingPairs(new int[] {0, 4, 8, 1, 5, 2}, PercpuRef.KEY_MOD, 4, load)).isEqualTo(4);
        assertThat(PercpuRef.sharingPairs(new int[] {0, 1, 2, 3}, PercpuRef.KEY_MOD, 4, load)).isZero();
        assertThat(PercpuRef.sharingPairs(new int[] {7}, PercpuRef.KEY_MOD, 4, load)).isZero();
    }

    @Test
    void moreKeysThanStripesAreSpreadWithTheFewestPairs() {
        Random random = new Random(42);
        int[] load = new int[4];
        for (int n = 2; n <= 4; n <<= 1) {
            for (int k = n + 1; k <= 2 * n + 1; k++) {
                for (int trial = 0; trial < 20; trial++) {
                    int[] keys = distinctKeys(random, k);
                    long m = PercpuRef.spread(keys, n);
                    assertThat(m & 1).as("odd multiplier").isEqualTo(m == PercpuRef.KEY_MOD ? 0 : 1);
                    assertThat(PercpuRef.sharingPairs(keys, m, n, load))
                            .as("%d keys on %d stripes with multiplier %x", k, n, m)
                            .isEqualTo(PercpuRef.minimumPairs(k, n));
                }
            }
        }
    }

    @Test
    void keysThatKeyModNCrowdsAreSpreadByAnotherMultiplier() {
        int[] crowded = {0, 64, 128, 192, 256};   // all on stripe 0 with key mod n
        int[] load = new int[4];
        assertThat(PercpuRef.sharingPairs(crowded, PercpuRef.KEY_MOD, 4, load)).isEqualTo(10);
        long m = PercpuRef.spread(crowded, 4);
        assertThat(m).isNotEqualTo(PercpuRef.KEY_MOD);
        assertThat(PercpuRef.sharingPairs(crowded, m, 4, load)).isEqualTo(1);
    }

    private static int[] distinctKeys(Random random, int k) {
        return random.ints(0, PercpuRef.KEY_BITS + 1).distinct().limit(k).toArray();
    }
}
