package io.percpuref.benchmarks;

import java.util.Random;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A JMH worker executor whose threads have scattered ids, as pool and request threads created at
 * different times do: before each worker thread it constructs (never starts) up to 49 other threads,
 * each of which takes a thread id. JMH's own workers are created one after another, with consecutive
 * ids, which take distinct stripes (id mod stripes) up to the stripe count, so the plain benchmarks never show
 * what stripe sharing costs. Used through JMH's custom executor hook:
 *
 * <pre>
 *   java -jar benchmarks/target/benchmarks.jar 'GetPutBenchmark\.(percpuRef|longAdder)$' -t 4 -f 3 \
 *       -jvmArgsAppend "-Djmh.executor=CUSTOM -Djmh.executor.class=io.percpuref.benchmarks.ScatteredIdExecutor"
 * </pre>
 *
 * <p>Each fork draws its gaps from {@code -Dscatter.seed} (default: the fork's nano time), so forks
 * place their threads differently and the JMH error bars include that spread.
 */
public final class ScatteredIdExecutor extends ThreadPoolExecutor {

    /** The constructor JMH calls for {@code -Djmh.executor=CUSTOM}. */
    public ScatteredIdExecutor(int maxThreads, String prefix) {
        super(maxThreads, maxThreads, 1, TimeUnit.HOURS, new LinkedBlockingQueue<>(), scattered(prefix));
    }

    private static ThreadFactory scattered(String prefix) {
        Random random = new Random(Long.getLong("scatter.seed", System.nanoTime()));
        AtomicInteger created = new AtomicInteger();
        return task -> {
            for (int gap = random.nextInt(50); gap > 0; gap--) {
                new Thread(() -> { }); // takes an id, never runs
            }
            Thread worker = new Thread(task, prefix + "-" + created.incrementAndGet());
            worker.setDaemon(true);
            return worker;
        };
    }
}
