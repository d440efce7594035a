package io.percpuref.examples.spring;

import io.percpuref.registry.RefInfo;
import io.percpuref.registry.RefState;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.PutMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

import java.net.URI;
import java.time.Duration;
import java.util.List;

/**
 * The demo API for {@link Shards}: create and kill resources at run time, so that the dashboard has
 * live and dying refs to show.
 *
 * <pre>
 * GET    /shards                             200 [shard...]
 * POST   /shards[?name=n]                    201 shard (live) | 400 bad or taken name | 409 too many
 * GET    /shards/{name}                      200 shard | 404
 * PUT    /shards/{name}/{key}                204 (body: the value) | 404 | 503 dying
 * GET    /shards/{name}/{key}[?holdMillis=]  200 value | 404 | 503 dying; holds its lease holdMillis after the read
 * DELETE /shards/{name}                      200 shard (DYING, or RELEASED if idle) | 404 | 409 already killed
 * </pre>
 *
 * A shard is {@code {"name","state","inFlight","age","dyingFor"}}, durations in ISO-8601.
 */
@RestController
@RequestMapping("/shards")
class ShardController {

    private final Shards shards;

    ShardController(Shards shards) {
        this.shards = shards;
    }

    @GetMapping
    List<ShardView> list() {
        return this.shards.list().stream().map(ShardView::of).toList();
    }

    @PostMapping
    ResponseEntity<ShardView> create(@RequestParam(required = false) String name) {
        ShardView shard = ShardView.of(this.shards.create(name));
        return ResponseEntity.created(URI.create("/shards/" + shard.name())).body(shard);
    }

    @GetMapping("/{name}")
    ShardView info(@PathVariable String name) {
        return ShardView.of(this.shards.info(name));
    }

    @PutMapping(path = "/{name}/{key}", consumes = MediaType.TEXT_PLAIN_VALUE)
    ResponseEntity<Void> put(@PathVariable String name, @PathVariable String key, @RequestBody String value) {
        this.shards.info(name); // 404 for a name no shard has, before the guarded call (one series per name)
        this.shards.put(name, key, value);
        return ResponseEntity.noContent().build();
    }

    @GetMapping(path = "/{name}/{key}", produces = MediaType.TEXT_PLAIN_VALUE)
    ResponseEntity<String> get(@PathVariable String name, @PathVariable String key,
                               @RequestParam(defaultValue = "0") long holdMillis) {
        this.shards.info(name); // 404 for a name no shard has, before the guarded call (one series per name)
        return this.shards.get(name, key, Duration.ofMillis(holdMillis)).map(ResponseEntity::ok)
                .orElseGet(() -> ResponseEntity.notFound().build());
    }

    @DeleteMapping("/{name}")
    ShardView kill(@PathVariable String name) {
        return ShardView.of(this.shards.kill(name));
    }

    @ExceptionHandler(Shards.UnknownShardException.class)
    ProblemDetail unknown(Shards.UnknownShardException e) {
        return ProblemDetail.forStatusAndDetail(HttpStatus.NOT_FOUND, e.getMessage());
    }

    @ExceptionHandler({Shards.ShardAlreadyKilledException.class, Shards.ShardLimitException.class})
    ProblemDetail conflict(RuntimeException e) {
        return ProblemDetail.forStatusAndDetail(HttpStatus.CONFLICT, e.getMessage());
    }

    @ExceptionHandler(IllegalArgumentException.class)
    ProblemDetail badRequest(IllegalArgumentException e) {
        return ProblemDetail.forStatusAndDetail(HttpStatus.BAD_REQUEST, e.getMessage());
    }

    /** A shard as the API shows it. */
    record ShardView(String name, RefState state, long inFlight, String age, String dyingFor) {

        static ShardView of(RefInfo info) {
            return new ShardView(info.name(), info.state(), info.inFlight(), info.age().toString(),
                    info.dyingFor().toString());
        }
    }
}
