package io.percpuref.test;

import io.percpuref.registry.Lease;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Events;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

/** The {@code ChannelTest} of docs/testing.md, verbatim, run on the Jupiter engine: two pass, one fails as shown. */
class TestingDocExampleTest {

    @ExtendWith(OnlyInEngineTestKit.class)
    static class ChannelTest {

        record Channel(String peer) {
            String send(String message) { return peer + " <- " + message; }
            void close() { }
        }

        @RegisterExtension
        final PercpuRefExtension refs = PercpuRefExtension.freshRegistry();

        @Test
        void sends() {
            ManagedResource<Channel> channel = refs.registry().register("channel-42", new Channel("db-1"), Channel::close);
            try (Lease<Channel> lease = channel.acquire()) {
                assertThat(lease.resource().send("ping")).isEqualTo("db-1 <- ping");
            }
        }

        @Test
        void isReleasedOnceKilled(RefRegistry registry) {          // the same registry, as a parameter
            ManagedResource<Channel> channel = registry.register("channel-42", new Channel("db-1"), Channel::close);
            channel.acquire().close();

            channel.kill();

            PercpuRefAssertions.awaitReleased(channel, Duration.ofSeconds(5));
        }

        @Test
        void forgetsToClose() {                                     // fails, see below
            ManagedResource<Channel> channel = refs.registry().register("channel-42", new Channel("db-1"), Channel::close);
            channel.acquire().resource().send("ping");
        }
    }

    @Test
    void theDocumentedExamplePassesTwoTestsAndFailsTheOneThatForgetsToClose() {
        Events events = EngineTestKit.engine("junit-jupiter").configurationParameter(OnlyInEngineTestKit.KEY, "true")
                .selectors(selectClass(ChannelTest.class)).execute().testEvents();

        assertThat(events.succeeded().count()).isEqualTo(2);
        assertThat(events.failed().count()).isEqualTo(1);
        Throwable failure = events.failed().stream().findFirst().orElseThrow()
                .getPayload(TestExecutionResult.class).orElseThrow().getThrowable().orElseThrow();
        assertThat(failure.getMessage())
                .startsWith("PercpuRefExtension: 1 lease opened during the test is still open (registry 'test'):\n"
                        + "resource 'channel-42' [LIVE]: 1 open lease\n  held for PT")
                .containsPattern("by thread '[^']+'\n    at " + ChannelTest.class.getName().replace("$", "\\$")
                        + "\\.forgetsToClose\\(TestingDocExampleTest\\.java:\\d+\\)\n    \\.\\.\\. \\d+ frames of the test"
                        + " framework\nClose every lease");
    }
}
