package io.percpuref;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Attack: a settled table (more live threads than the cap allows stripes) is "tried again once a
 * millisecond old". With a steady set of threads nothing can ever be gained (stripes(1): one stripe
 * for two threads; stripes(2): three threads), yet every get that finds another's tag on an aged
 * settled table runs spread() and replaces the table (sealing every stripe, sending adds in the
 * window to the atomic counter): about once per millisecond, for ever. Counted: identity changes
 * of the `stripes` field seen by a sampling thread in the second half of a 1.2 s run, after warm-up.
 */
class SettledChurnAttack2Test {

    @ParameterizedTest
    @CsvSource({"1,2", "2,3", "4,6"})
    void aSteadySetOfThreadsBeyondTheCapSettlesForGood(int cap, int threads) throws Exception {
        Field field = PercpuRef.class.getDeclaredField("stripes");
        field.setAccessible(true);
        AtomicInteger releases = new AtomicInteger();
        List<PercpuRefException> reports = new CopyOnWriteArrayList<>();
        PercpuRef ref = PercpuRef.builder().name("settled-churn").stripes(cap)
                .onRelease(r -> releases.incrementAndGet()).errorReporter(reports::add).build();
        ref.inflate();
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Thread w = new Thread(() -> {
                while (!stop.get()) {
                    ref.get();
                    ref.put();
                    Thread.onSpinWait();
                }
            });
            workers.add(w);
            w.start();
        }
        Thread.sleep(600);                                   // warm-up: the table settles
        int changes = 0;
        Object last = field.get(ref);
        long end = System.nanoTime() + 600_000_000L;
        while (System.nanoTime() < end) {
            Object now = field.get(ref);
            if (now != last) {
                changes++;
                last = now;
            }
            Thread.onSpinWait();
        }
        stop.set(true);
        for (Thread w : workers) {
            w.join();
        }
        ref.kill();
        assertThat(releases).hasValue(1);
        assertThat(reports).isEmpty();
        assertThat(changes).as("table replacements in 600 ms after warm-up, %d steady threads, cap %d", threads, cap)
                .isLessThan(20);
    }
}
