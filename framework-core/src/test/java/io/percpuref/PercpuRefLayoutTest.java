package io.percpuref;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.openjdk.jol.info.ClassLayout;
import org.openjdk.jol.info.FieldLayout;
import org.openjdk.jol.info.GraphLayout;

/**
 * Memory layout, measured with JOL on this JVM (compressed oops, 8-byte alignment): the fields
 * every get/put touches sit between paddings, so no other object's fields share their cache line
 * (no false sharing between idle refs, or between a ref and its neighbours), while an idle ref
 * with its name stays under 256 bytes and a ref two threads contended on stays within 512.
 */
class PercpuRefLayoutTest {

    private static final List<String> HOT = List.of("count", "base", "state", "stripes", "crowded");
    /** A cache line. */
    private static final int LINE = 64;
    /** The first field of an object starts at offset 12 at the earliest (after mark word and class pointer). */
    private static final int FIRST_FIELD = 12;
    private static final Consumer<PercpuRef> NO_OP = r -> { };

    @Test
    void theHotFieldsHaveACacheLineOfTheirOwnWhateverIsAllocatedAroundTheRef() {
        ClassLayout layout = ClassLayout.parseClass(PercpuRef.class);
        List<FieldLayout> hot = layout.fields().stream().filter(f -> HOT.contains(f.name())).collect(Collectors.toList());
        long first = hot.stream().mapToLong(FieldLayout::offset).min().orElseThrow();
        long end = hot.stream().mapToLong(f -> f.offset() + f.size()).max().orElseThrow();

        assertThat(hot).hasSize(5);
        assertThat(end - first).as("the hot fields are contiguous").isEqualTo(28);
        assertThat(first).as("bytes before the hot fields, the header included:%n%s", layout.toPrintable())
                .isGreaterThanOrEqualTo(LINE);
        assertThat(layout.instanceSize() + FIRST_FIELD - end)
                .as("bytes from the hot fields to the next object's first field:%n%s", layout.toPrintable())
                .isGreaterThanOrEqualTo(LINE);
    }

    @Test
    void anIdleNamedRefTakesUnder256Bytes() {
        PercpuRef ref = PercpuRef.builder().name("aio-ctx-00042").onRelease(NO_OP).build();

        assertThat(bytes(ref)).isLessThan(256);
    }

    @Test
    void aRefTwoThreadsContendedOnTakesAtMost512BytesWhateverItsStripeCap() {
        for (int cap = 2; cap <= 64; cap <<= 1) {
            PercpuRef ref = PercpuRef.builder().name("aio-ctx-00042").stripes(cap).onRelease(NO_OP).build();
            ref.inflate();
            ref.collided(1); // one thread moved away from the other: no growth

            assertThat(ref.stripesInUse()).isEqualTo(2);
            assertThat(bytes(ref)).as("cap %d", cap).isLessThanOrEqualTo(512);
        }
    }

    @Test
    void aTableOfNStripesTakes8Plus128NBytes() {
        PercpuRef ref = PercpuRef.builder().name("grown").stripes(64).onRelease(NO_OP).build();
        long idle = bytes(ref);
        ref.inflate();
        assertThat(bytes(ref) - idle).as("the first table").isEqualTo(8 + 128 * 2);
        while (ref.stripesInUse() < 64) {
            ref.collided(2);
        }

        assertThat(bytes(ref) - idle).isEqualTo(8 + 128 * 64);
    }

    private static long bytes(PercpuRef ref) {
        return GraphLayout.parseInstance(ref).subtract(GraphLayout.parseInstance(NO_OP)).totalSize();
    }
}
