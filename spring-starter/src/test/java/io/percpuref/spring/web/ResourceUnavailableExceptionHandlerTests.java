package io.percpuref.spring.web;

import io.percpuref.ResourceUnavailableException;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.test.web.reactive.server.WebTestClient;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

/** The 503 answer to a refused call: Retry-After, and the same answer in a WebFlux application. */
class ResourceUnavailableExceptionHandlerTests {

    private static final ResourceUnavailableException REFUSED =
            new ResourceUnavailableException("index", "DYING", "it has been killed; no new leases are handed out");

    @Test
    void answerCarriesRetryAfterInSeconds() {
        ResponseEntity<ProblemDetail> answer = new ResourceUnavailableExceptionHandler(Duration.ofMillis(4500))
                .handleResourceUnavailable(REFUSED);
        assertThat(answer.getStatusCode()).isEqualTo(HttpStatus.SERVICE_UNAVAILABLE);
        assertThat(answer.getHeaders().getFirst("Retry-After")).isEqualTo("5");
    }

    @Test
    void defaultRetryAfterIsOneSecond() {
        assertThat(new ResourceUnavailableExceptionHandler().handleResourceUnavailable(REFUSED).getHeaders()
                .getFirst("Retry-After")).isEqualTo("1");
    }

    @Test
    void webFluxApplicationAnswers503WithAProblemDetailAndRetryAfter() {
        WebTestClient client = WebTestClient.bindToController(new RefusingController())
                .controllerAdvice(new ResourceUnavailableExceptionHandler()).build();
        for (String path : new String[] {"/mono", "/future"}) {
            client.get().uri(path).exchange()
                    .expectStatus().isEqualTo(HttpStatus.SERVICE_UNAVAILABLE)
                    .expectHeader().valueEquals("Retry-After", "1")
                    .expectHeader().contentTypeCompatibleWith(MediaType.APPLICATION_PROBLEM_JSON)
                    .expectBody()
                    .jsonPath("$.status").isEqualTo(503)
                    .jsonPath("$.resource").isEqualTo("index")
                    .jsonPath("$.state").isEqualTo("DYING");
        }
    }

    @RestController
    static class RefusingController {
        @GetMapping("/mono")
        Mono<String> mono() {
            return Mono.error(REFUSED);
        }

        @GetMapping("/future")
        CompletableFuture<String> future() {
            return CompletableFuture.failedFuture(REFUSED);
        }
    }
}
