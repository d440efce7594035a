package io.percpuref;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Probe: a small cap with more threads than stripes (the settled table is rebuilt about once per
 * millisecond) racing kill / reinit cycles and switchToAtomic/switchToPercpu, with adds of 1 and of
 * 2^40 taken on one thread and dropped on another (slots drift). Checked: no release while held,
 * exactly one release per life, tryGetLive after kill() returned fails, approximateCount exact when
 * quiescent, nothing reported.
 */
class ChurnLifecycleAttack2Test {

    @Test
    @Timeout(40)
    void churningSettledTableAcrossLivesLosesNothing() throws Exception {
        AtomicReference<String> violation = new AtomicReference<>();
        List<PercpuRefException> reports = new CopyOnWriteArrayList<>();
        AtomicLong held = new AtomicLong();
        AtomicInteger releases = new AtomicInteger();
        PercpuRef ref = PercpuRef.builder().name("churn-life").stripes(ThreadLocalRandom.current().nextBoolean() ? 1 : 2)
                .allowReinit()
                .onRelease(r -> {
                    releases.incrementAndGet();
                    if (held.get() != 0) {
                        violation.compareAndSet(null, "released while " + held.get() + " held");
                    }
                })
                .errorReporter(reports::add).build();
        ref.inflate();
        AtomicBoolean killed = new AtomicBoolean();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicBoolean pause = new AtomicBoolean();
        AtomicInteger paused = new AtomicInteger();
        java.util.concurrent.ConcurrentLinkedQueue<Long> handoff = new java.util.concurrent.ConcurrentLinkedQueue<>();
        int workers = 4;
        List<Thread> threads = new ArrayList<>();
        for (int w = 0; w < workers; w++) {
            Thread t = new Thread(() -> {
                ThreadLocalRandom random = ThreadLocalRandom.current();
                while (!stop.get()) {
                    if (pause.get()) {
                        paused.incrementAndGet();
                        while (pause.get() && !stop.get()) {
                            Thread.onSpinWait();
                        }
                        paused.decrementAndGet();
                        continue;
                    }
                    boolean afterKill = killed.get();
                    if (ref.tryGetLive()) {
                        held.incrementAndGet();
                        if (afterKill) {
                            violation.compareAndSet(null, "tryGetLive succeeded after kill() returned");
                        }
                        long n = random.nextInt(4) == 0 ? 1L << 40 : 1 + random.nextInt(3);
                        ref.get(n);
                        held.addAndGet(n);
                        handoff.add(n);                     // dropped by some thread, maybe another
                        Long m = handoff.poll();
                        if (m != null) {
                            held.addAndGet(-m);
                            ref.put(m);
                        }
                        held.decrementAndGet();
                        ref.put();
                    }
                }
            });
            threads.add(t);
            t.start();
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(8);
        int lives = 0;
        try {
            while (System.nanoTime() < deadline && violation.get() == null) {
                lives++;
                Thread.sleep(2 + ThreadLocalRandom.current().nextInt(5));
                if (ThreadLocalRandom.current().nextBoolean()) {
                    ref.switchToAtomic();
                    Thread.sleep(1);
                    ref.switchToPercpu();
                    Thread.sleep(2);
                }
                // quiescent check of approximateCount
                pause.set(true);
                while (paused.get() < workers) {
                    Thread.onSpinWait();
                }
                long approx = ref.approximateCount();
                if (approx != 1 + held.get()) {
                    violation.compareAndSet(null, "quiescent approximateCount " + approx + ", expected " + (1 + held.get())
                            + " (" + ref + ")");
                }
                pause.set(false);
                Thread.sleep(2);
                int before = releases.get();
                ref.kill();
                killed.set(true);
                Thread.sleep(1);
                // drain the hand-off so the life can end
                pause.set(true);
                while (paused.get() < workers) {
                    Thread.onSpinWait();
                }
                Long m;
                while ((m = handoff.poll()) != null) {
                    held.addAndGet(-m);
                    ref.put(m);
                }
                if (held.get() != 0) {
                    violation.compareAndSet(null, "held " + held.get() + " with workers paused");
                }
                if (releases.get() != before + 1) {
                    violation.compareAndSet(null, "releases " + releases.get() + " after life " + lives + ", expected " + (before + 1)
                            + " (" + ref + ")");
                }
                ref.released().toCompletableFuture().get(5, TimeUnit.SECONDS);
                ref.reinit();
                killed.set(false);
                pause.set(false);
            }
        } finally {
            stop.set(true);
            pause.set(false);
            for (Thread t : threads) {
                t.join(5000);
            }
        }
        assertThat(violation.get()).as("after %d lives", lives).isNull();
        assertThat(reports).isEmpty();
    }
}
