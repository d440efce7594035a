package io.percpuref.examples.aio;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The command line: defaults, both option spellings, help, and exit status 2 for bad arguments. */
class CliOptionsTest {

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    @Test
    void noArgumentsGiveTheDefaults() throws Exception {
        CliOptions o = CliOptions.parse();

        assertThat(o).isEqualTo(CliOptions.defaults());
        assertThat(o.help()).isFalse();
        assertThat(o.contexts()).isEqualTo(8);
        assertThat(o.requests()).isEqualTo(2_500);
        assertThat(o.blockSize()).isEqualTo(4096);
        assertThat(o.queueDepth()).isEqualTo(64);
        assertThat(o.batch()).isEqualTo(16);
        assertThat(o.rate()).isEqualTo(500);
        assertThat(o.destroy()).isEqualTo(4);
        assertThat(o.ioThreads()).isEqualTo(4);
        assertThat(o.seed()).isEqualTo(42);
        assertThat(o.dir()).isEqualTo(Path.of(System.getProperty("java.io.tmpdir")));
        assertThat(o.progress()).isEqualTo(CliOptions.ProgressMode.AUTO);
    }

    @Test
    void optionsTakeTheirValueAsNextArgumentOrAfterAnEqualsSign() throws Exception {
        CliOptions o = CliOptions.parse("--contexts", "3", "--requests=100", "--block-size", "8k", "--queue-depth=32",
                "--batch", "4", "--rate=0", "--destroy", "1", "--io-threads=2", "--seed", "-7", "--progress=lines");

        assertThat(o).isEqualTo(new CliOptions(false, 3, 100, 8192, 32, 4, 0, 1, 2, -7,
                CliOptions.defaults().dir(), CliOptions.ProgressMode.LINES));
    }

    @Test
    void destroyDefaultsToHalfTheContexts() throws Exception {
        assertThat(CliOptions.parse("--contexts", "5").destroy()).isEqualTo(2);
    }

    @Test
    void helpPrintsTheUsageOnStandardOutputAndExitsWithZero() {
        int status = Main.run(new String[] {"--help"}, print(out), print(err));

        assertThat(status).isZero();
        assertThat(text(out)).startsWith("usage: java -jar percpu-ref-example-aio.jar").contains("--contexts N");
        assertThat(text(err)).isEmpty();
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "--bogus                      | unknown option '--bogus'",
            "--contexts                   | option --contexts needs a value",
            "--contexts x                 | --contexts needs a whole number, was 'x'",
            "--contexts 0                 | --contexts must be between 1 and 1024, was 0",
            "--requests=-5                | --requests must be between 1 and 10000000, was -5",
            "--block-size 3g              | --block-size needs a size such as 4096, 4k or 1m, was '3g'",
            "--block-size 2m              | --block-size must be between 1 and 1048576 bytes, was 2m",
            "--batch 65 --queue-depth 64  | --batch (65) must not exceed --queue-depth (64)",
            "--contexts 2 --destroy 3     | --destroy (3) must not exceed --contexts (2)",
            "--progress fancy             | --progress must be auto, bar, lines or off, was 'fancy'",
            "--dir /no/such/dir           | --dir must be an existing directory, was '/no/such/dir'",
            "extra                        | unexpected argument 'extra'",
    })
    void badArgumentsPrintTheReasonAndTheUsageOnStandardErrorAndExitWithTwo(String args, String reason) {
        int status = Main.run(args.trim().split("\\s+"), print(out), print(err));

        assertThat(status).isEqualTo(2);
        assertThat(text(err)).startsWith("percpu-ref-example-aio: " + reason.trim())
                .contains("usage: java -jar percpu-ref-example-aio.jar");
        assertThat(text(out)).isEmpty();
    }

    @Test
    void parseReportsTheFirstProblemAsAUsageException() {
        assertThatThrownBy(() -> CliOptions.parse("--rate", "fast"))
                .isInstanceOf(CliOptions.UsageException.class)
                .hasMessage("--rate needs a whole number, was 'fast'");
    }

    private static PrintStream print(ByteArrayOutputStream bytes) {
        return new PrintStream(bytes, true, StandardCharsets.UTF_8);
    }

    private static String text(ByteArrayOutputStream bytes) {
        return bytes.toString(StandardCharsets.UTF_8);
    }
}
