//! A DNS server on loopback for tests: it knows the records it is given,
//! answers `NXDOMAIN` for every other name, and records each question. A
//! homeserver pointed at it (`server::Config::dns_server`) resolves the
//! test's names and sends no lookup off the machine.

use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::{RData, Record};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

pub use hickory_resolver::proto::rr::rdata::{A, SRV};
pub use hickory_resolver::proto::rr::{Name, RData as Data};

/// A running test DNS server (UDP), stopped with the runtime.
pub struct TestDns {
    pub address: SocketAddr,
    /// Each question as `TYPE name.` (`SRV _matrix-fed._tcp.hs.test.`).
    pub asked: Arc<Mutex<Vec<String>>>,
}

impl TestDns {
    /// Serves `records` (fully qualified names, with the final dot).
    pub async fn serve(records: Vec<(&'static str, RData)>) -> TestDns {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let address = socket.local_addr().unwrap();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = asked.clone();
        tokio::spawn(async move {
            let mut buffer = vec![0; 4096];
            while let Ok((length, from)) = socket.recv_from(&mut buffer).await {
                let Ok(query) = Message::from_vec(&buffer[..length]) else {
                    continue;
                };
                let mut answer = Message::response(query.metadata.id, query.metadata.op_code);
                answer.metadata.recursion_desired = query.metadata.recursion_desired;
                answer.metadata.authoritative = true;
                for question in &query.queries {
                    let name = question.name().to_lowercase().to_string();
                    log.lock().unwrap().push(format!("{} {name}", question.query_type()));
                    let known: Vec<&RData> = records.iter().filter(|(n, _)| *n == name).map(|(_, d)| d).collect();
                    if known.is_empty() {
                        answer.metadata.response_code = ResponseCode::NXDomain;
                    }
                    for data in known.into_iter().filter(|d| d.record_type() == question.query_type()) {
                        answer.add_answer(Record::from_rdata(question.name().clone(), 60, data.clone()));
                    }
                }
                answer.add_queries(query.queries.clone());
                if let Ok(bytes) = answer.to_vec() {
                    let _ = socket.send_to(&bytes, from).await;
                }
            }
        });
        TestDns { address, asked }
    }
}
