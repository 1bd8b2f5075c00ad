// The provider's listener (net::start_pooled_server, issue #31) against hostile clients on
// loopback aliases (127.0.0.2 and up stand for other machines on the allowed network): held idle
// connections, answers never read, floods from one source, and a fixed number of threads. Every
// wait is bounded.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include "net/http.hpp"
#include "net/server.hpp"
#include "support/loopback.hpp"
#include "support/process.hpp"

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using testing_support::wait_for;

class PooledServer : public testing::Test {
protected:
  void start(net::PooledLimits limits, net::Handler handler = {}) {
    if (!handler) {
      handler = [](const net::ServerRequest& r) {
        net::ServerResponse ok;
        ok.body = r.path == "/big" ? std::string(size_t{4} * 1024 * 1024, 'x') : "ok";
        return ok;
      };
    }
    limits.on_refused = [this](const char* reason) {
      const std::lock_guard lock(mutex_);
      ++refused_[reason];
    };
    server_ = net::start_pooled_server("127.0.0.1", 0, std::move(handler), std::move(limits));
  }

  int refused(const std::string& reason) {
    const std::lock_guard lock(mutex_);
    return refused_[reason];
  }

  std::unique_ptr<tcp::socket> connect_from(const std::string& source) {
    return testing_support::connect_from(ioc_, source, server_->port());
  }

  // A plain GET as PMS sends it, from 127.0.0.1, on a new connection.
  int pms_get(const std::string& target, std::string* body = nullptr, const std::string& method = "GET") {
    net::ClientOptions opts;
    opts.base = *net::Url::parse("http://127.0.0.1:" + std::to_string(server_->port()));
    opts.read_timeout_ms = 5000;
    opts.total_timeout_ms = 5000;
    auto client = net::make_http_client(opts);
    auto res = client->send(net::Request{method, target, {}, ""});
    if (!res) {
      return -1;
    }
    if (body != nullptr) {
      *body = res->body;
    }
    return res->status;
  }

  // The status of the first answer on a raw socket (0 when it closed without one).
  static int status_on(tcp::socket& socket) {
    asio::streambuf buf;
    boost::system::error_code ec;
    asio::read_until(socket, buf, "\r\n", ec);
    if (ec) {
      return 0;
    }
    std::istream in(&buf);
    std::string version;
    int status = 0;
    in >> version >> status;
    return status;
  }

  static bool closed_by_server(tcp::socket& socket, std::chrono::milliseconds within) {
    return wait_for(
        [&] {
          if (socket.available() > 0) {
            std::array<char, 65536> sink{};
            boost::system::error_code ec;
            (void)socket.read_some(asio::buffer(sink), ec);
            return ec == asio::error::eof || ec == asio::error::connection_reset;
          }
          // Nothing to read: a closed peer shows as readable with EOF.
          socket.non_blocking(true);
          std::array<char, 1> one{};
          boost::system::error_code ec;
          (void)socket.read_some(asio::buffer(one), ec);
          socket.non_blocking(false);
          return ec == asio::error::eof || ec == asio::error::connection_reset;
        },
        within);
  }

  static size_t threads() {
    size_t n = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
      ++n;
    }
    return n;
  }

  asio::io_context ioc_;
  std::mutex mutex_;
  std::map<std::string, int> refused_;
  std::unique_ptr<net::HttpServer> server_;
};

TEST_F(PooledServer, HeldIdleConnectionsFromManyAddressesDoNotStarvePms) {
  net::PooledLimits limits;
  limits.max_connections = 32;
  limits.max_per_source = 8;
  start(limits);
  const auto threads_before = threads();
  // 100 idle connections from 13 addresses: round one's 64-slot listener answered 0 of 120 after this.
  std::vector<std::unique_ptr<tcp::socket>> held;
  for (int i = 0; i < 100; ++i) {
    held.push_back(connect_from("127.0.0." + std::to_string(2 + i / 8)));
  }
  int answered = 0;
  for (int i = 0; i < 120; ++i) {
    answered += pms_get("/movie") == 200 ? 1 : 0;
  }
  EXPECT_EQ(answered, 120) << "PMS-like requests answered while 100 idle connections are held";
  EXPECT_GT(refused("evicted"), 0);
  EXPECT_LE(threads(), threads_before) << "connections must not add threads";
}

TEST_F(PooledServer, PerSourceCapAnswers503) {
  net::PooledLimits limits;
  limits.max_per_source = 4;
  start(limits);
  std::vector<std::unique_ptr<tcp::socket>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(connect_from("127.0.0.9"));
  }
  ASSERT_TRUE(wait_for([&] { return pms_get("/movie") == 200; }, std::chrono::seconds(5)));
  auto fifth = connect_from("127.0.0.9");
  EXPECT_EQ(status_on(*fifth), 503);
  EXPECT_EQ(refused("per_source"), 1);
  EXPECT_EQ(pms_get("/movie"), 200) << "another address is not affected";
}

TEST_F(PooledServer, IdleTricklingAndUnreadConnectionsAreClosedFast) {
  net::PooledLimits limits;
  limits.idle_ms = 300;
  limits.receive_ms = 1000;
  limits.send_ms = 1000;
  start(limits);
  auto idle = connect_from("127.0.0.3");
  EXPECT_TRUE(closed_by_server(*idle, std::chrono::seconds(3))) << "an idle connection outlived idle_ms";
  auto trickle = connect_from("127.0.0.4");
  asio::write(*trickle, asio::buffer(std::string("GET /movie HTTP/1.1\r\n")));
  EXPECT_TRUE(closed_by_server(*trickle, std::chrono::seconds(4))) << "a request trickling in outlived receive_ms";
  EXPECT_EQ(refused("slow"), 1);
  // Pipelined requests for 4 MiB answers, none read: the server stops writing after send_ms.
  auto unread = connect_from("127.0.0.5");
  std::string requests;
  for (int i = 0; i < 20; ++i) {
    requests += "GET /big HTTP/1.1\r\nHost: x\r\n\r\n";
  }
  asio::write(*unread, asio::buffer(requests));
  EXPECT_TRUE(wait_for([&] { return refused("unread") == 1; }, std::chrono::seconds(6)))
      << "a client that never reads kept its connection";
  EXPECT_EQ(pms_get("/movie"), 200);
  std::string body;
  EXPECT_EQ(pms_get("/big", &body, "HEAD"), 200);
  EXPECT_TRUE(body.empty()) << "HEAD is answered without a body";
}

TEST_F(PooledServer, AFixedPoolServesSourcesInTurnAndShedsLoad) {
  std::mutex m;
  std::condition_variable cv;
  bool release = false;
  std::vector<std::string> order;
  net::PooledLimits limits;
  limits.workers = 1;
  limits.max_queued = 4;
  start(limits, [&](const net::ServerRequest& r) {
    std::unique_lock lock(m);
    order.push_back(r.peer + r.path);
    if (r.path == "/block") {
      cv.wait_for(lock, std::chrono::seconds(20), [&] { return release; });
    }
    net::ServerResponse ok;
    ok.body = "ok";
    return ok;
  });
  const auto send = [&](const std::string& from, const std::string& path) {
    auto s = connect_from(from);
    asio::write(*s, asio::buffer("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    return s;
  };
  auto blocker = send("127.0.0.2", "/block");
  ASSERT_TRUE(wait_for(
      [&] {
        const std::lock_guard lock(m);
        return order.size() == 1;
      },
      std::chrono::seconds(5)));
  std::vector<std::unique_ptr<tcp::socket>> flood;
  for (int i = 0; i < 3; ++i) {
    flood.push_back(send("127.0.0.2", "/flood"));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200)); // the flood is queued first
  auto other = send("127.0.0.3", "/other");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto fourth = send("127.0.0.4", "/fourth");
  // The queue is full: the source with the most waiting loses its newest request, at once.
  EXPECT_EQ(status_on(*flood.back()), 503) << "a full queue sheds the flooding source's request";
  {
    const std::lock_guard lock(m);
    release = true;
  }
  cv.notify_all();
  EXPECT_EQ(status_on(*other), 200);
  EXPECT_EQ(status_on(*fourth), 200);
  EXPECT_EQ(status_on(*flood[0]), 200);
  EXPECT_EQ(status_on(*flood[1]), 200);
  const std::lock_guard lock(m);
  ASSERT_EQ(order.size(), 5U);
  EXPECT_EQ(order[1], "127.0.0.2/flood");
  EXPECT_EQ(order[2], "127.0.0.3/other") << "the other source waited behind one request only";
  EXPECT_EQ(order[3], "127.0.0.4/fourth");
  EXPECT_EQ(refused("overload"), 1);
}

} // namespace
