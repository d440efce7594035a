package io.percpuref.examples.ffm;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** The example end to end: the program as {@code java -jar} runs it, on real files, with its checks. */
class MainTest {

    @TempDir
    Path dir;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(String... args) {
        return Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private String out() {
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void replacesMappedGenerationsUnderReadersVerifiesEveryByteAndLeavesNothingMapped() throws IOException {
        int status = run("--files", "3", "--file-size", "64k", "--readers", "3", "--seconds", "2",
                "--replace-ms", "50", "--progress", "lines", "--dir", dir.toString());

        String output = out();
        assertThat(status).as(output + err).isEqualTo(Main.EXIT_OK);
        assertThat(output).contains("result: OK - every byte verified")
                .contains("progress 100%")
                .contains(", 0 wrong blocks, 0 unexpected exceptions")
                .contains("percpu.refs.release.failures{registry=ffm}   0")
                .contains("percpu.refs.leaks{registry=ffm}              0");
        Matcher bytes = Pattern.compile("bytes     ([\\d,]+) of ([\\d,]+) bytes of (\\d+) generations verified")
                .matcher(output);
        assertThat(bytes.find()).as(output).isTrue();
        assertThat(bytes.group(1)).isEqualTo(bytes.group(2));
        int generations = Integer.parseInt(bytes.group(3));
        assertThat(generations).isGreaterThan(5);
        assertThat(bytes.group(1).replace(",", "")).isEqualTo(Long.toString(generations * 3L * 64 * 1024));
        assertThat(output).contains(String.format("unmapped  %d of %d generations unmapped after their last lease; "
                + "a read of their segments then threw IllegalStateException %d of %d times; 0 mappings of their "
                + "files left", generations, generations, generations, generations));
        assertThat(output.lines().filter(l -> l.endsWith("IllegalStateException"))).hasSize(generations);
        assertThat(output).contains("percpu.refs.releases{registry=ffm}           " + generations);
        try (Stream<Path> left = Files.list(dir)) {
            assertThat(left).as("temporary directory removed").isEmpty();
        }
    }

    @Test
    void aBadArgumentPrintsTheReasonAndTheUsageAndExitsWithStatus2() {
        int status = run("--file-size", "1000");

        assertThat(status).isEqualTo(Main.EXIT_USAGE);
        assertThat(err.toString(StandardCharsets.UTF_8))
                .startsWith("percpu-ref-example-ffm: --file-size must be between 4096 and 1073741824 bytes, not 1000")
                .contains("usage: java -jar percpu-ref-example-ffm.jar");
        assertThat(out()).isEmpty();
    }

    @Test
    void aFileSizeThatIsNotAMultipleOfTheBlockIsRefused() {
        assertThat(run("--file-size", "6k")).isEqualTo(Main.EXIT_USAGE);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("--file-size (6144) must be a multiple of 4096");
    }

    @Test
    void helpPrintsTheUsageAndRunsNothing() {
        assertThat(run("--help")).isEqualTo(Main.EXIT_OK);
        assertThat(out()).startsWith("usage: java -jar percpu-ref-example-ffm.jar").contains("--replace-ms N");
    }

    @Test
    void theContentOfAFileDependsOnItsGenerationSoAStaleMappingWouldBeCaught() {
        long differing = 0;
        for (int offset = 0; offset < 4096; offset++) {
            if (Workload.expected(42, 1, 0, offset) != Workload.expected(42, 2, 0, offset)) {
                differing++;
            }
        }
        assertThat(differing).isGreaterThan(4000);
    }
}
