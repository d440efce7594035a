package io.percpuref.spring.web;

import io.percpuref.ResourceUnavailableException;

import org.springframework.core.annotation.Order;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;

import java.time.Duration;
import java.util.Objects;

/**
 * Answers a {@link ResourceUnavailableException} that escapes a controller (a guarded call refused
 * because its resource is dying or released) with {@code 503 Service Unavailable} and an RFC 9457
 * problem detail:
 *
 * <pre>
 * HTTP/1.1 503
 * Retry-After: 1
 * Content-Type: application/problem+json
 *
 * {"detail":"resource 'index' is unavailable (DYING)","instance":"/search","status":503,
 *  "title":"Resource unavailable","resource":"index","state":"DYING"}
 * </pre>
 *
 * {@code Retry-After} is {@code percpu-ref.web.retry-after} in whole seconds, rounded up (one
 * second by default): a refused call is refused because its resource is being drained, typically
 * while this instance shuts down, so a client (or a load balancer) should try again shortly,
 * preferably elsewhere.
 *
 * <p>Works for Spring MVC and WebFlux, also when the exception completes a returned
 * {@code CompletableFuture} or {@code Mono}. Auto-configured in web applications unless
 * {@code percpu-ref.web.exception-handler=false} or you define a bean of this type. Its order is
 * {@code 0}, like Spring Boot's own problem-details handler: it runs before advice of default order
 * (a catch-all {@code @ExceptionHandler(Exception.class)} of yours does not turn the 503 into a
 * 500); give your own handler a lower order, or switch this one off, to answer differently.
 */
@RestControllerAdvice
@Order(0)
public class ResourceUnavailableExceptionHandler {

    /** The default {@code Retry-After}: one second. */
    public static final Duration DEFAULT_RETRY_AFTER = Duration.ofSeconds(1);

    /** The value of the {@code Retry-After} header, in seconds. */
    private final String retryAfterSeconds;

    /** A handler that answers with {@code Retry-After: 1}. */
    public ResourceUnavailableExceptionHandler() {
        this(DEFAULT_RETRY_AFTER);
    }

    /**
     * @param retryAfter the {@code Retry-After} of the answer, sent in whole seconds, rounded up
     * @throws IllegalArgumentException if {@code retryAfter} is negative
     */
    public ResourceUnavailableExceptionHandler(Duration retryAfter) {
        Objects.requireNonNull(retryAfter, "retryAfter");
        if (retryAfter.isNegative()) {
            throw new IllegalArgumentException("retryAfter must not be negative, was " + retryAfter);
        }
        long seconds = retryAfter.getSeconds() + (retryAfter.getNano() > 0 ? 1 : 0);
        this.retryAfterSeconds = Long.toString(seconds);
    }

    /** The 503 problem detail for {@code refused}, with {@code Retry-After}. */
    @ExceptionHandler(ResourceUnavailableException.class)
    public ResponseEntity<ProblemDetail> handleResourceUnavailable(ResourceUnavailableException refused) {
        ProblemDetail problem = ProblemDetail.forStatusAndDetail(HttpStatus.SERVICE_UNAVAILABLE,
                "resource '" + refused.resourceName() + "' is unavailable (" + refused.resourceState() + ")");
        problem.setTitle("Resource unavailable");
        problem.setProperty("resource", refused.resourceName());
        problem.setProperty("state", refused.resourceState());
        return ResponseEntity.status(HttpStatus.SERVICE_UNAVAILABLE)
                .header(HttpHeaders.RETRY_AFTER, this.retryAfterSeconds)
                .body(problem);
    }
}
