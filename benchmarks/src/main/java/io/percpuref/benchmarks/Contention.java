package io.percpuref.benchmarks;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs an operation on several threads at once, to put an object in its contended shape. */
final class Contention {

    private Contention() {
    }

    /**
     * Runs {@code operation} in a loop on {@code threads} new threads for {@code millis}
     * milliseconds and returns when they have all stopped. A {@code PercpuRef} or a
     * {@code LongAdder} hammered this way has allocated its stripes (the first failed CAS on the
     * base slot inflates it).
     */
    static void run(Runnable operation, int threads, long millis) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        List<Thread> started = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            Thread t = new Thread(() -> {
                while (System.nanoTime() < end) {
                    for (int j = 0; j < 1_000; j++) {
                        operation.run();
                    }
                }
            }, "contention-" + i);
            t.start();
            started.add(t);
        }
        for (Thread t : started) {
            t.join();
        }
    }
}
