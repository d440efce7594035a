package io.percpuref.examples.aio;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** The whole workload, end to end, with small parameters. */
class WorkloadTest {

    @TempDir
    Path dir;

    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);

    @Test
    void everyWrittenByteIsReadBackAndNothingIsLostWhileContextsAreDestroyedInFlight() throws Exception {
        CliOptions options = CliOptions.parse("--contexts", "4", "--requests", "400", "--block-size", "1k",
                "--queue-depth", "16", "--batch", "8", "--rate", "1000", "--destroy", "2", "--io-threads", "2",
                "--seed", "7", "--progress", "lines", "--dir", dir.toString());

        Workload.Result r = new Workload(options, out).run();

        assertThat(r.ok()).as(output()).isTrue();
        assertThat(r.bytesWritten()).isPositive();
        assertThat(r.bytesVerified()).isEqualTo(r.bytesWritten());
        assertThat(r.lost()).isZero();
        assertThat(r.failed()).isZero();
        assertThat(r.mismatches()).isZero();
        assertThat(r.violations()).isEmpty();
        assertThat(r.submitted()).isEqualTo(r.completed());
        assertThat(r.completed() + r.rejectedUnknown() + r.rejectedDying()).isEqualTo(r.requests()).isEqualTo(1600);
        assertThat(r.rejectedUnknown() + r.rejectedDying()).as("requests after the two early destroys").isPositive();
        assertThat(r.contextsReleased()).isEqualTo(8); // 4 workload contexts + 4 read-back contexts
        assertThat(r.shutdownClean()).isTrue();
    }

    @Test
    void printsProgressLinesASummaryAndTheMetricsAndRemovesItsTemporaryDirectory() throws Exception {
        int status = Main.run(new String[] {"--contexts", "2", "--requests", "200", "--block-size", "512", "--rate", "0",
                "--progress", "lines", "--dir", dir.toString()}, out, out);

        assertThat(status).as(output()).isZero();
        assertThat(output())
                .containsPattern("progress run +100% +400/400 requests")
                .containsPattern("progress verify +100%")
                .contains("requests  400 issued")
                .containsPattern("percpu\\.refs\\.kills\\{registry=aio} +4\\R")
                .containsPattern("percpu\\.refs\\.releases\\{registry=aio} +4\\R")
                .containsPattern("percpu\\.refs\\.drain\\.latency\\{registry=aio} +count 4,")
                .containsPattern("percpu\\.refs\\{registry=aio,state=live} +0\\R")
                .contains("result: OK")
                .doesNotContain("\r");
        try (Stream<Path> left = Files.list(dir)) {
            assertThat(left).isEmpty();
        }
    }

    @Test
    void drawsABarWithCarriageReturnsInBarMode() throws Exception {
        int status = Main.run(new String[] {"--contexts", "2", "--requests", "400", "--block-size", "512", "--rate", "2000",
                "--progress", "bar", "--dir", dir.toString()}, out, out);

        assertThat(status).as(output()).isZero();
        assertThat(output()).contains("\rrun      [").contains("] 100%").doesNotContain("progress run");
    }

    private String output() {
        return bytes.toString(StandardCharsets.UTF_8);
    }
}
