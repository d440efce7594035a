package io.percpuref;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

/**
 * Attack (on f48da9b, where adds above 2^32 went to the atomic counter): slots count modulo 2^51
 * (units of 2^13), the atomic counter exactly. Batches taken in chunks of 2^32 (slot) and dropped in one
 * put above 2^32 (atomic) move references from the atomic part to the slots for ever, although
 * the count itself never exceeds 2^40 (far below MAX_COUNT). After 2^50 of such drift the slot sum
 * wraps and the fold is off by 2^51.
 */
class SlotDriftAttackTest {

    private static final long CHUNK = 1L << 32;                     // 2^32: counted on a slot
    private static final long BATCH = CHUNK << 8;                   // 2^40: counted on the atomic counter on f48da9b

    @Test
    void batchesGotInChunksAndPutAtOnceKeepTheCountExact() {
        AtomicInteger releases = new AtomicInteger();
        List<PercpuRefException> reports = new CopyOnWriteArrayList<>();
        PercpuRef ref = PercpuRef.builder().name("drift").onRelease(r -> releases.incrementAndGet())
                .errorReporter(reports::add).build();
        ref.get(10);                                                // ten references held throughout
        for (int batch = 0; batch < 1 << 10; batch++) {             // 2^10 batches of 2^40: 2^50 drift
            for (int chunk = 0; chunk < 1 << 8; chunk++) {
                ref.get(CHUNK);
            }
            ref.put(BATCH);                                         // the count is 11 again
        }
        long approximate = ref.approximateCount();

        ref.kill();
        assertThat(reports).as("error reports at the fold").isEmpty();
        assertThat(releases).as("released while 10 references are held").hasValue(0);
        assertThat(ref.approximateCount()).isEqualTo(10);
        ref.put(10);
        assertThat(releases).hasValue(1);
        assertThat(approximate).as("approximateCount, quiescent, per-CPU").isEqualTo(11);
    }

    /**
     * MAX_COUNT's javadoc: "In per-CPU mode no thread knows the total, so a total above it is found,
     * and reported, at the next switch to atomic mode (the count stays exact up to 2^50)." Here
     * twice the maximum, in slot-sized gets (on f48da9b 2^50 of them were reported as an over-put).
     */
    @Test
    void aPerCpuTotalAboveMaxCountIsReportedAsSuchAndStaysExact() {
        List<PercpuRefException> reports = new CopyOnWriteArrayList<>();
        AtomicInteger releases = new AtomicInteger();
        PercpuRef ref = PercpuRef.builder().name("above-max").onRelease(r -> releases.incrementAndGet())
                .errorReporter(reports::add).build();
        for (int i = 0; i < 1 << 17; i++) {                         // 2^49 references, in slot-sized gets
            ref.get(CHUNK);
        }
        ref.kill();
        assertThat(reports).hasSize(1);
        assertThat(reports.get(0).getMessage()).contains("above the maximum").doesNotContain("over-put");
        assertThat(ref.approximateCount()).isEqualTo(1L << 49);
        assertThat(releases).hasValue(0);
    }
}
