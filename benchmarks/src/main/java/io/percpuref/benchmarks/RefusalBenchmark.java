package io.percpuref.benchmarks;

import io.percpuref.registry.Lease;
import io.percpuref.registry.LeakDetection;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefRegistry;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import jdk.jfr.Recording;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;

/**
 * What a refusal storm costs with and without a JFR recording: {@code tryAcquire()} on a killed
 * resource, which is refused and counted, and commits a sampled {@code io.percpuref.Refusal} event
 * (at most one per 100 ms per registry) while a recording runs.
 *
 * <pre>
 *   java -jar benchmarks/target/benchmarks.jar 'RefusalBenchmark' -f 2 -wi 3 -w 1s -i 5 -r 1s
 * </pre>
 *
 * <p>{@code jfr=off}: no recording, the event hook stops at {@code isEnabled()}; {@code jfr=on}: a
 * recording with the registry's events enabled runs in the benchmark's JVM. Nanoseconds per refusal,
 * per thread.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Threads(2)
public class RefusalBenchmark {

    /** A registry with one killed resource, and a JFR recording if {@link #jfr} is {@code on}. */
    @State(Scope.Benchmark)
    public static class Refusing {
        @Param({"off", "on"})
        String jfr;

        RefRegistry registry;
        ManagedResource<Object> resource;
        Recording recording;

        @Setup
        public void build() {
            registry = RefRegistry.builder().leakDetection(LeakDetection.DISABLED).build();
            resource = registry.register("refusing", new Object(), r -> { });
            resource.kill();
            if (jfr.equals("on")) {
                recording = new Recording();
                recording.enable("io.percpuref.Refusal");
                recording.start();
            }
        }

        @TearDown
        public void stop() {
            if (recording != null) {
                recording.close();
            }
            registry.shutdown(Duration.ZERO);
        }
    }

    /** {@code tryAcquire()} on a dying resource: always empty. */
    @Benchmark
    public Optional<Lease<Object>> refusedTryAcquire(Refusing s) {
        return s.resource.tryAcquire();
    }
}
