package io.percpuref.spring;

import org.springframework.web.bind.annotation.GetMapping;

import java.util.concurrent.CompletableFuture;
import org.springframework.web.bind.annotation.RestController;

/** Web endpoints over {@link TestBackend}'s guarded methods. */
@RestController
class BackendController {

    private final TestBackend backend;

    BackendController(TestBackend backend) {
        this.backend = backend;
    }

    @GetMapping("/work")
    String work() {
        return this.backend.work();
    }

    /** Spring MVC handles the returned future asynchronously; a refusal is a failed future. */
    @GetMapping("/async")
    CompletableFuture<String> async() {
        return this.backend.async(CompletableFuture.completedFuture("async ok"));
    }

    @GetMapping("/slow")
    String slow() {
        return this.backend.slow();
    }
}
