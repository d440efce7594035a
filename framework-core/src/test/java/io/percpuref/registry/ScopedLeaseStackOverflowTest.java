package io.percpuref.registry;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Adversarial review of ac26091 (withLease) and 3a37b75 (thread id via MethodHandle), with a real
 * {@link StackOverflowError} scanned across every call ({@link ScopedLeaseStackOverflowProbe}):
 * <ul>
 *   <li>{@code PercpuRef.get()/put()} must let an overflow out as the {@code StackOverflowError} it
 *   is, not as an {@code AssertionError("neverThrown")};</li>
 *   <li>{@code withLease} "gives the reference back on every exit": an overflow outside the ref's own
 *   get/put (for example in the sampling read between {@code tryGetLive()} and the {@code try}) must
 *   not lose the reference; on the untracked path there is no lease object, so leak detection can
 *   never find it and the resource is never released.</li>
 * </ul>
 */
class ScopedLeaseStackOverflowTest {

    private static final Pattern RESULT = Pattern.compile(
            "refOverflows=(\\d+) foreign=(\\d+) scopedOverflows=(\\d+) lost=(\\d+)");

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void anOverflowIsNeitherDisguisedByTheThreadIdHandleNorLosesAScopedLeasesReference() throws Exception {
        String output = InterpretedProbe.run(ScopedLeaseStackOverflowProbe.class, 3);
        System.out.println("ScopedLeaseStackOverflowProbe: " + output.strip());
        Matcher m = RESULT.matcher(output);
        assertThat(m.find()).as("probe output:%n%s", output).isTrue();

        assertThat(Integer.parseInt(m.group(1))).as("the ref scan must reach overflows:%n%s", output).isPositive();
        assertThat(Integer.parseInt(m.group(3))).as("the scoped scan must reach overflows:%n%s", output).isPositive();
        assertThat(Integer.parseInt(m.group(2)))
                .as("overflows inside PercpuRef.get()/put() that escaped as something else:%n%s", output).isZero();
        assertThat(Integer.parseInt(m.group(4)))
                .as("scoped-lease references lost outside the ref's own get/put:%n%s", output).isZero();
    }
}
