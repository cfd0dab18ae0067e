//! The public room directory across servers: this server's published rooms
//! for other servers (`GET`/`POST /publicRooms`, the same list and paging
//! its own clients get), and another server's directory for this server's
//! clients (`/publicRooms?server=...`), asked there and passed on as it came.

use super::Federation;
use crate::api::directory::{list, RoomSearch};
use matrix_api::client_server::PublicRoomsResponse;
use matrix_api::server_server::endpoints::{get_public_rooms, query_public_rooms};
use matrix_api::server_server::{Filter, QueryPublicRoomsRequest};
use matrix_api_runtime::MatrixError;

impl Federation {
    pub(super) fn answer_public_rooms(
        &self,
        request: get_public_rooms::Request,
    ) -> Result<get_public_rooms::Response, MatrixError> {
        let q = request.query;
        let rooms = list(&self.hs, q.limit, q.since.as_deref(), &RoomSearch::default())?;
        Ok(get_public_rooms::Response::Ok(rooms))
    }

    pub(super) fn answer_public_rooms_search(
        &self,
        request: query_public_rooms::Request,
    ) -> Result<query_public_rooms::Response, MatrixError> {
        let b = request.body;
        let search = RoomSearch {
            term: b.filter.as_ref().and_then(|f| f.generic_search_term.clone()),
            room_types: b.filter.and_then(|f| f.room_types),
        };
        let rooms = list(&self.hs, b.limit, b.since.as_deref(), &search)?;
        Ok(query_public_rooms::Response::Ok(rooms))
    }

    /// `server`'s published rooms, asked there: with `GET` when there is
    /// nothing to search for, else with `POST` and the filter.
    pub(crate) async fn public_rooms_of(
        &self,
        server: &str,
        limit: Option<i64>,
        since: Option<String>,
        search: RoomSearch,
    ) -> Result<PublicRoomsResponse, MatrixError> {
        let client = self.client_for(server).await;
        let failed = |e| super::api::remote_failure("listing public rooms", server, e);
        if search.term.is_none() && search.room_types.is_none() {
            let mut request = get_public_rooms::Request::new();
            request.query.limit = limit;
            request.query.since = since;
            let get_public_rooms::Response::Ok(rooms) = client.get_public_rooms(request).await.map_err(failed)?;
            return Ok(rooms);
        }
        let body = QueryPublicRoomsRequest {
            limit,
            since,
            filter: Some(Filter {
                generic_search_term: search.term,
                room_types: search.room_types,
            }),
            ..Default::default()
        };
        let query_public_rooms::Response::Ok(rooms) = client
            .query_public_rooms(query_public_rooms::Request::new(body))
            .await
            .map_err(failed)?;
        Ok(rooms)
    }
}
