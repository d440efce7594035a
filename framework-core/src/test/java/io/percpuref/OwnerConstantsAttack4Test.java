package io.percpuref;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledForJreRange;
import org.junit.jupiter.api.condition.JRE;

/**
 * Probe of 17b5aea's baseOwner layout (owner = low 24 id bits, cap log2 in bits 24-28,
 * ALLOW_REINIT in bit 29): threads whose getId() (17-18) has every low bit set, none of the low 24
 * set, bits above 24 set, or that differ by 2^24, claim and count on base; the constants must
 * survive the claim, and counts stay exact.
 */
class OwnerConstantsAttack4Test {

    private static final long[] IDS = {
        -1L, 0L, 1L << 24, (1L << 24) | 5, 5, 0xFFFFFFL, 0x3F000000L, 0x7FFFFFFFL, Long.MIN_VALUE, 0x20000001L,
    };

    @Test
    @Timeout(30)
    @EnabledForJreRange(max = JRE.JAVA_18)
    void claimsByOddIdsKeepTheCapAndAllowReinit() throws Exception {
        int[] caps = {1, 2, 8, 64, PercpuRef.MAX_STRIPES};
        for (int cap : caps) {
            for (boolean allow : new boolean[] {false, true}) {
                for (long first : IDS) {
                    for (long second : IDS) {
                        check(cap, allow, first, second);
                    }
                }
            }
        }
    }

    private static void check(int cap, boolean allow, long first, long second) throws Exception {
        AtomicInteger releases = new AtomicInteger();
        PercpuRef.Builder b = PercpuRef.builder().name("c").stripes(cap).onRelease(r -> releases.incrementAndGet());
        if (allow) {
            b.allowReinit();
        }
        PercpuRef ref = b.build();
        String what = "cap=" + cap + " allow=" + allow + " ids=" + Long.toHexString(first) + "," + Long.toHexString(second);
        CyclicBarrier go = new CyclicBarrier(2);
        List<Thread> ts = new ArrayList<>();
        for (long id : new long[] {first, second}) {
            Thread t = new Thread(() -> {
                try {
                    go.await();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
                for (int i = 0; i < 2_000; i++) {
                    ref.get();
                    ref.put();
                }
                ref.get();
            }) {
                @Override
                @SuppressWarnings("deprecation")
                public long getId() {
                    return id;
                }
            };
            t.start();
            ts.add(t);
        }
        for (Thread t : ts) {
            t.join();
        }
        assertThat(ref.stripeCount()).as(what).isEqualTo(cap);
        assertThat(ref.approximateCount()).as(what).isEqualTo(3);
        ref.kill();
        ref.put(2);
        assertThat(releases.get()).as(what).isEqualTo(1);
        if (allow) {
            ref.reinit();
            assertThat(ref.isDying()).as(what).isFalse();
            assertThat(ref.stripeCount()).as(what).isEqualTo(cap);
        } else {
            assertThatThrownBy(ref::reinit).as(what).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("allowReinit");
        }
    }
}
