package io.percpuref.registry;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Runs a probe's {@code main} in a JVM of its own, interpreted ({@code -Xint}, so every call in the
 * scanned code is a real call where a {@link StackOverflowError} can strike) with the test class
 * path, and returns what it printed.
 */
final class InterpretedProbe {

    private InterpretedProbe() {
    }

    static String run(Class<?> probe, long timeoutMinutes) throws IOException, InterruptedException {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process process = new ProcessBuilder(List.of(java.toString(), "-Xint", "-XX:+UseSerialGC",
                "-cp", System.getProperty("java.class.path"), probe.getName()))
                .redirectErrorStream(true)
                .start();
        byte[] out = process.getInputStream().readAllBytes();
        assertThat(process.waitFor(timeoutMinutes, TimeUnit.MINUTES)).as("probe %s finished", probe.getSimpleName()).isTrue();
        return new String(out, StandardCharsets.UTF_8);
    }
}
