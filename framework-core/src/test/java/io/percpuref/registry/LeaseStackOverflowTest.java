package io.percpuref.registry;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A {@link StackOverflowError} inside the owner's lease close (found by the adversarial review of
 * the CAS-free close): it must never leave the lease half-closed, where another thread's close
 * waits for ever and the lease's reference is never put. {@link LeaseStackOverflowProbe} scans the
 * overflow across every call of the close, in an interpreted JVM of its own.
 */
class LeaseStackOverflowTest {

    private static final Pattern RESULT = Pattern.compile(
            "overflows=(\\d+) insideClose=(\\d+) insidePut=(\\d+) hung=(\\d+) lost=(\\d+)");

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void aStackOverflowAnywhereInTheOwnersCloseLeavesTheLeaseClosableByAnyThread() throws Exception {
        String output = InterpretedProbe.run(LeaseStackOverflowProbe.class, 2);
        System.out.println("LeaseStackOverflowProbe: " + output.strip());
        Matcher m = RESULT.matcher(output);
        assertThat(m.find()).as("probe output:%n%s", output).isTrue();
        int overflows = Integer.parseInt(m.group(1));
        int insideClose = Integer.parseInt(m.group(2));

        assertThat(insideClose).as("overflows that struck inside the owner's close (the scan must reach it):%n%s", output)
                .isGreaterThan(0);
        assertThat(overflows).isGreaterThanOrEqualTo(insideClose);
        assertThat(Integer.parseInt(m.group(4))).as("closes by another thread that never returned:%n%s", output).isZero();
        assertThat(Integer.parseInt(m.group(5))).as("references lost outside the ref's own put():%n%s", output).isZero();
    }
}
