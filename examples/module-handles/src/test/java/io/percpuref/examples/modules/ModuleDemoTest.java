package io.percpuref.examples.modules;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/** The demo program runs through load, call, reload and unload and reports a clean run. */
class ModuleDemoTest {

    @Test
    void demoLoadsCallsReloadsAndUnloadsWithoutACallAgainstAClosedLoader() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        int status = ModuleDemo.run(new PrintStream(bytes, true, StandardCharsets.UTF_8), Duration.ofMillis(150));

        String output = bytes.toString(StandardCharsets.UTF_8);
        assertThat(status).as(output).isZero();
        assertThat(output)
                .contains("insmod greeter-1.0.jar  -> greeter 1.0, class loader 'module greeter-1.0#1'")
                .contains("call greeter(\"kernel\")   = Hello, kernel! (greeter 1.0)")
                .contains("call rot13(\"percpu_ref\") = crepch_ers")
                .contains("greeter 2.0 published; greeter 1.0 killed")
                .contains("call greeter(\"kernel\")   -> module 'greeter' is not loaded")
                .contains("calls that ran against a closed class loader: 0")
                .contains("old class loaders unreachable after release: 3 of 3")
                .contains("result: OK");
    }
}
